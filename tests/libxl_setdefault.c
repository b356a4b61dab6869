/* Reads a libxl_domain_config as JSON on stdin, runs libxl's own
 * create-info and build-info setdefault over it (from the static
 * libxenlight.a, where they are linkable) and prints the result as JSON.
 *
 * With --build it runs instead libxl's checks and defaults for the whole
 * config (libxl__domain_config_setdefault), then the x86 part of its domain
 * build (libxl__arch_domain_create). The hypervisor calls that build makes
 * are answered here and printed, one line each:
 *   hvm_param <param> <value> | tsc_mode <mode> | time_offset <seconds> | paging_pool <bytes>
 * A config libxl refuses exits 3 (4 if refused during the build), with
 * libxl's reason on stderr.
 *
 * Run under the xl shim, which answers the hypervisor calls they make. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
int libxl__domain_config_setdefault(struct gc *, libxl_domain_config *, uint32_t);
int libxl__arch_domain_create(struct gc *, libxl_domain_config *, void *state, uint32_t);

int xc_hvm_param_set(void *xch, uint32_t domid, uint32_t param, uint64_t value)
{
    printf("hvm_param %u %llu\n", param, (unsigned long long)value);
    return 0;
}

int xc_domain_set_tsc_info(void *xch, uint32_t domid, uint32_t mode, uint64_t elapsed, uint32_t khz,
                           uint32_t incarnation)
{
    printf("tsc_mode %u\n", mode);
    return 0;
}

int xc_domain_set_time_offset(void *xch, uint32_t domid, int32_t offset)
{
    printf("time_offset %d\n", offset);
    return 0;
}

int xc_set_paging_mempool_size(void *xch, uint32_t domid, uint64_t size)
{
    printf("paging_pool %llu\n", (unsigned long long)size);
    return 0;
}

/* cpupool 0 exists and holds every CPU */
struct pool { uint32_t cpupool_id, sched_id, n_dom; uint8_t *cpumap; };

struct pool *xc_cpupool_getinfo(void *xch, uint32_t poolid)
{
    static uint8_t cpus[8] = { 0xff };
    static struct pool pool;

    if (poolid != 0)
        return NULL;
    pool.cpupool_id = 0;
    pool.sched_id = 5;
    pool.n_dom = 1;
    pool.cpumap = cpus;
    return &pool;
}

void xc_cpupool_infofree(void *xch, struct pool *info)
{
}

/* ... and is named Pool-0 in xenstore; other reads go to the shim. */
void *xs_read(void *h, uint32_t t, const char *path, unsigned int *len)
{
    void *(*next)(void *, uint32_t, const char *, unsigned int *) = dlsym(RTLD_NEXT, "xs_read");

    if (strcmp(path, "/local/pool/0/name") == 0) {
        if (len)
            *len = 6;
        return strdup("Pool-0");
    }
    return next(h, t, path, len);
}

static int build(struct gc *gc, libxl_domain_config *config)
{
    static uint64_t state[4096];  /* libxl__domain_build_state, all zero: a new domain, not a restore */

    if (libxl__domain_config_setdefault(gc, config, 1))
        return 3;
    fflush(stdout);
    return libxl__arch_domain_create(gc, config, state, 1) ? 4 : 0;
}

int main(int argc, char **argv)
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
    if (argc > 1 && strcmp(argv[1], "--build") == 0)
        return build(&gc, &config);
    if (libxl__domain_create_info_setdefault(&gc, &config.c_info, &physinfo) ||
        libxl__domain_build_info_setdefault(&gc, &config.b_info))
        return 3;
    fputs(libxl_domain_config_to_json(ctx, &config), stdout);
    return 0;
}
