/*
 * replay.c - runs a fuzz target over saved inputs, without libFuzzer.
 *
 *     fuzz_replay_csv tests/fuzz/corpus/fuzz_csv [more files or dirs...]
 *
 * Each argument is a file or a directory (its regular files, in name order).
 * Every input is copied into a buffer of exactly its size, so that
 * AddressSanitizer catches a read one past the end, and passed to
 * LLVMFuzzerTestOneInput. A broken invariant traps; the input's path is on
 * stderr just before. Exits 1 when no input was found, which would mean a
 * misconfigured test rather than a pass.
 */
#include "fuzz.h"

#include <dirent.h>
#include <sys/stat.h>

static int replay_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    bool bad = ferror(fp) || !buf;
    fclose(fp);
    if (bad) {
        free(buf);
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    if (n)
        memcpy(exact, buf, n);
    free(buf);
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int only_visible(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

int main(int argc, char **argv)
{
    size_t n_inputs = 0;
    int failures = 0;
    for (int a = 1; a < argc; a++) {
        struct stat sb;
        if (stat(argv[a], &sb) != 0) {
            fprintf(stderr, "replay: no such file or directory: %s\n", argv[a]);
            failures++;
            continue;
        }
        if (!S_ISDIR(sb.st_mode)) {
            failures += replay_file(argv[a]) < 0;
            n_inputs++;
            continue;
        }
        struct dirent **list = NULL;
        int n = scandir(argv[a], &list, only_visible, alphasort);
        if (n < 0) {
            fprintf(stderr, "replay: cannot list %s\n", argv[a]);
            failures++;
            continue;
        }
        for (int i = 0; i < n; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[a], list[i]->d_name);
            if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
                failures += replay_file(path) < 0;
                n_inputs++;
            }
            free(list[i]);
        }
        free(list);
    }
    fprintf(stderr, "replay: %zu inputs, %d unreadable\n", n_inputs, failures);
    return n_inputs == 0 || failures ? 1 : 0;
}
