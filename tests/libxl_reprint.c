/* Reads a libxl_domain_config as JSON on stdin and prints it back through
 * libxl's own JSON printer: the layout libxl would give the same config
 * (field order, fields left out at their defaults). Run under the xl shim. */
#include <stdio.h>
#include <libxl.h>

int main(void)
{
    static char text[1 << 20];
    libxl_ctx *ctx;
    libxl_domain_config config;
    xentoollog_logger *log = (xentoollog_logger *)xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
    size_t len = fread(text, 1, sizeof(text) - 1, stdin);

    text[len] = '\0';
    if (libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, log))
        return 2;
    libxl_domain_config_init(&config);
    if (libxl_domain_config_from_json(ctx, &config, text))
        return 1;
    fputs(libxl_domain_config_to_json(ctx, &config), stdout);
    return 0;
}
