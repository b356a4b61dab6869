/* libxl's own domid history code (from the static libxenlight.a, where its
 * internal functions are linkable), driven from the command line:
 *
 *   recent DOMID...  one line per domid: 1 if libxl__is_domid_recent, else 0
 *   hold             take libxl__lock_domid_history, say "locked", keep it
 *                    until stdin closes, then release it
 *   clear            libxl_clear_domid_history
 *
 * The history is in libxl's run dir, /var/run/xen: the tests run this in a
 * mount namespace of their own with a directory of theirs there. Run under
 * the xl shim, which answers the hypervisor calls libxl_ctx_alloc makes. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxl.h>

/* libxl__gc as libxl_internal.h lays it out in 4.17. */
struct gc {
    int alloc_maxsize;
    int alloc_firstfree;
    void **owned;
    libxl_ctx *owner;
};

int libxl__is_domid_recent(struct gc *, uint32_t, bool *);
void *libxl__lock_domid_history(struct gc *);
void libxl__unlock_file(void *);

int main(int argc, char **argv)
{
    libxl_ctx *ctx;
    xentoollog_logger *log = (xentoollog_logger *)xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
    struct gc gc = { 0, 0, NULL, NULL };

    if (argc < 2 || libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, log))
        return 2;
    gc.owner = ctx;
    if (!strcmp(argv[1], "recent")) {
        for (int i = 2; i < argc; i++) {
            bool recent;

            if (libxl__is_domid_recent(&gc, strtoul(argv[i], NULL, 0), &recent))
                return 1;
            printf("%d\n", recent);
        }
        return 0;
    }
    if (!strcmp(argv[1], "hold")) {
        void *lock = libxl__lock_domid_history(&gc);

        if (!lock)
            return 1;
        printf("locked\n");
        fflush(stdout);
        while (getchar() != EOF)
            ;
        libxl__unlock_file(lock);
        return 0;
    }
    if (!strcmp(argv[1], "clear"))
        return libxl_clear_domid_history(ctx) ? 1 : 0;
    return 2;
}
