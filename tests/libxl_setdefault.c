/* Reads a libxl_domain_config as JSON on stdin, runs libxl's own
 * create-info and build-info setdefault over it (from the static
 * libxenlight.a, where they are linkable) and prints the result as JSON.
 * Run under the xl shim, which answers the hypervisor calls they make. */
#include <stdio.h>
#include <libxl.h>

/* libxl__gc as libxl_internal.h lays it out in 4.17; the functions below only
 * use it to allocate and to reach the context. */
struct gc {
    int alloc_maxsize;
    int alloc_firstfree;
    void **owned;
    libxl_ctx *owner;
};

int libxl__domain_create_info_setdefault(struct gc *, libxl_domain_create_info *, const libxl_physinfo *);
int libxl__domain_build_info_setdefault(struct gc *, libxl_domain_build_info *);

int main(void)
{
    static char text[1 << 20];
    libxl_ctx *ctx;
    libxl_domain_config config;
    libxl_physinfo physinfo;
    xentoollog_logger *log = (xentoollog_logger *)xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
    size_t len = fread(text, 1, sizeof(text) - 1, stdin);
    struct gc gc = { 0, 0, NULL, NULL };

    text[len] = '\0';
    if (libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, log))
        return 2;
    gc.owner = ctx;
    libxl_domain_config_init(&config);
    libxl_physinfo_init(&physinfo);
    if (libxl_domain_config_from_json(ctx, &config, text) || libxl_get_physinfo(ctx, &physinfo))
        return 1;
    if (libxl__domain_create_info_setdefault(&gc, &config.c_info, &physinfo) ||
        libxl__domain_build_info_setdefault(&gc, &config.b_info))
        return 3;
    fputs(libxl_domain_config_to_json(ctx, &config), stdout);
    return 0;
}
