/*
 * test_keyring.c - data keys: sealing round trips, tamper detection,
 * deterministic sealing, rotation (in this process and by another one),
 * stable blind-index hashes, key file errors with line numbers, and the
 * TELLER_DATA_KEY alternative.
 */
#include <criterion/criterion.h>

#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A fresh key file path (not yet existing) in a new temporary directory. */
static char *key_path(void)
{
    char *dir = tu_tmpdir();
    cr_assert_not_null(dir);
    size_t n = strlen(dir) + 16;
    char *p = malloc(n);
    snprintf(p, n, "%s/teller.key", dir);
    free(dir);
    return p;
}

static tl_keyring *open_ok(const char *path, bool create)
{
    tl_keyring *kr = NULL;
    tl_err err = {0};
    int rc = tl_keyring_open(path, create, &kr, &err);
    cr_assert_eq(rc, 0, "open %s: %s", path ? path : "(env)", err.msg);
    cr_assert_not_null(kr);
    return kr;
}

static char *seal_ok(const tl_keyring *kr, const char *context, const char *pt)
{
    char *out = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_keyring_seal(kr, context, pt, strlen(pt), &out, &err), 0, "seal: %s", err.msg);
    cr_assert_not_null(out);
    return out;
}

static void expect_opens(const tl_keyring *kr, const char *context, const char *sealed,
                         const char *want)
{
    char *pt = NULL;
    size_t n = 0;
    tl_err err = {0};
    int rc = tl_keyring_unseal(kr, context, sealed, strlen(sealed), &pt, &n, &err);
    cr_assert_eq(rc, 0, "unseal %s: %s", sealed, err.msg);
    cr_assert_eq(n, strlen(want));
    cr_assert_str_eq(pt, want);
    free(pt);
}

static void expect_crypto_error(const tl_keyring *kr, const char *context, const char *sealed,
                                size_t len, const char *fragment)
{
    char *pt = (char *)"untouched";
    size_t n = 0;
    tl_err err = {0};
    int rc = tl_keyring_unseal(kr, context, sealed, len, &pt, &n, &err);
    cr_assert_eq(rc, TL_ECRYPTO, "want TL_ECRYPTO, got %d (%s)", rc, err.msg);
    cr_assert_str_eq(pt, "untouched", "output touched on error");
    cr_assert(strstr(err.msg, context), "error names the context: %s", err.msg);
    if (fragment)
        cr_assert(strstr(err.msg, fragment), "error lacks \"%s\": %s", fragment, err.msg);
}

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    int n = 0, c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

/* A valid key line's base64 for tests that write key files by hand. */
static void b64_key(unsigned char fill, char *out, size_t size)
{
    unsigned char k[32];
    memset(k, fill, sizeof k);
    sodium_bin2base64(out, size, k, sizeof k, sodium_base64_VARIANT_ORIGINAL);
}

/* ------------------------------------------------------------------------ */

Test(keyring, creates_a_private_key_file_and_round_trips)
{
    unsetenv("TELLER_DATA_KEY");
    char *path = key_path();
    tl_keyring *kr = open_ok(path, true);
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_eq(sb.st_mode & 0777, 0600, "mode %o", sb.st_mode & 0777);
    cr_assert_eq(count_lines(path), 1);
    cr_assert_str_eq(tl_keyring_active_id(kr), "k1");

    const char *values[] = {"Anna Müller", "", "a", "Hauptstraße 5, 10115 Berlin\nline two"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char *s = seal_ok(kr, "customers.name", values[i]);
        cr_assert(strncmp(s, "tlenc1:k1:", 10) == 0, "form: %s", s);
        cr_assert(tl_keyring_is_sealed(s, strlen(s)));
        cr_assert_null(strstr(s, "Anna"));
        char id[32];
        cr_assert_eq(tl_keyring_sealed_key_id(s, strlen(s), id), 0);
        cr_assert_str_eq(id, "k1");
        expect_opens(kr, "customers.name", s, values[i]);
        free(s);
    }
    cr_assert_not(tl_keyring_is_sealed("Anna Müller", 12));
    cr_assert_not(tl_keyring_is_sealed("tlenc1:k1:", 10));
    const char *bad_id = "tlenc1:k 1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    cr_assert_not(tl_keyring_is_sealed(bad_id, strlen(bad_id)));
    tl_keyring_free(kr);

    /* opening again reads the same key */
    tl_keyring *again = open_ok(path, false);
    char *a = seal_ok(again, "customers.email", "x@example.com");
    tl_keyring *third = open_ok(path, true);
    char *b = seal_ok(third, "customers.email", "x@example.com");
    cr_assert_str_eq(a, b);
    cr_assert_eq(count_lines(path), 1, "create=true must not touch an existing file");
    free(a);
    free(b);
    tl_keyring_free(again);
    tl_keyring_free(third);
    free(path);
}

Test(keyring, sealing_is_deterministic_per_key_and_context)
{
    unsetenv("TELLER_DATA_KEY");
    char *p1 = key_path(), *p2 = key_path();
    tl_keyring *kr = open_ok(p1, true), *other = open_ok(p2, true);
    char *a = seal_ok(kr, "customers.email", "anna@example.de");
    char *b = seal_ok(kr, "customers.email", "anna@example.de");
    char *c = seal_ok(kr, "customers.phone", "anna@example.de");
    char *d = seal_ok(kr, "customers.email", "anna@example.dE");
    char *e = seal_ok(other, "customers.email", "anna@example.de");
    cr_assert_str_eq(a, b, "same key, context and value give the same text");
    cr_assert_str_neq(a, c, "the context changes the text");
    cr_assert_str_neq(a, d);
    cr_assert_str_neq(a, e, "another key file gives another text");
    /* nonces differ with the context, not just the ciphertext */
    cr_assert(strncmp(a + 10, c + 10, 32) != 0);
    free(a), free(b), free(c), free(d), free(e);
    tl_keyring_free(kr);
    tl_keyring_free(other);
    free(p1);
    free(p2);
}

Test(keyring, detects_tampering_wrong_context_and_unknown_keys)
{
    unsetenv("TELLER_DATA_KEY");
    char *path = key_path();
    tl_keyring *kr = open_ok(path, true);
    char *s = seal_ok(kr, "customers.national_id", "12345678901");
    size_t n = strlen(s);

    /* every single-character change anywhere in the body is caught */
    for (size_t i = 10; i < n; i++) {
        char *t = strdup(s);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        expect_crypto_error(kr, "customers.national_id", t, n, NULL);
        free(t);
    }
    expect_crypto_error(kr, "customers.email", s, n, "does not open");
    expect_crypto_error(kr, "customers.national_id", s, n - 1, NULL);
    expect_crypto_error(kr, "customers.national_id", s, 20, NULL);
    expect_crypto_error(kr, "customers.national_id", "12345678901", 11, "not a sealed value");

    char *other = malloc(n + 2);
    snprintf(other, n + 2, "tlenc1:k9:%s", s + 10);
    expect_crypto_error(kr, "customers.national_id", other, strlen(other), "\"k9\"");
    free(other);

    /* a value sealed under another key file with the same key id */
    char *p2 = key_path();
    tl_keyring *stranger = open_ok(p2, true);
    char *t = seal_ok(stranger, "customers.national_id", "12345678901");
    expect_crypto_error(kr, "customers.national_id", t, strlen(t), "another key file");
    free(t);
    tl_keyring_free(stranger);
    free(p2);

    free(s);
    tl_keyring_free(kr);
    free(path);
}

Test(keyring, rotation_keeps_old_values_readable_and_hashes_stable)
{
    unsetenv("TELLER_DATA_KEY");
    char *path = key_path();
    tl_keyring *kr = open_ok(path, true);
    char h1[65], h2[65], h3[65];
    tl_keyring_hash(kr, "customers.email", "anna@example.de", 15, h1);
    cr_assert_eq(strlen(h1), 64);
    tl_keyring_hash(kr, "customers.national_id", "anna@example.de", 15, h3);
    cr_assert_str_neq(h1, h3, "the context separates hashes");
    char *old = seal_ok(kr, "customers.name", "Liam O'Brien");

    char new_id[32] = {0};
    tl_err err = {0};
    cr_assert_eq(tl_keyring_rotate(kr, path, new_id, &err), 0, "rotate: %s", err.msg);
    cr_assert_str_eq(new_id, "k2");
    cr_assert_str_eq(tl_keyring_active_id(kr), "k2");
    cr_assert_eq(count_lines(path), 2);
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_eq(sb.st_mode & 0777, 0600);

    expect_opens(kr, "customers.name", old, "Liam O'Brien");
    char *fresh = seal_ok(kr, "customers.name", "Liam O'Brien");
    cr_assert(strncmp(fresh, "tlenc1:k2:", 10) == 0, "sealed under the new key: %s", fresh);
    cr_assert_str_neq(fresh, old);
    tl_keyring_hash(kr, "customers.email", "anna@example.de", 15, h2);
    cr_assert_str_eq(h1, h2, "blind indexes survive rotation");

    cr_assert_eq(tl_keyring_rotate(kr, path, NULL, &err), 0, "rotate: %s", err.msg);
    cr_assert_str_eq(tl_keyring_active_id(kr), "k3");

    /* a fresh open sees all three keys, the last one active */
    tl_keyring *re = open_ok(path, false);
    cr_assert_str_eq(tl_keyring_active_id(re), "k3");
    expect_opens(re, "customers.name", old, "Liam O'Brien");
    expect_opens(re, "customers.name", fresh, "Liam O'Brien");
    tl_keyring_hash(re, "customers.email", "anna@example.de", 15, h2);
    cr_assert_str_eq(h1, h2);
    tl_keyring_free(re);

    /* a stale lock from an interrupted rotation is reported, not ignored */
    size_t n = strlen(path) + 16;
    char *lock = malloc(n);
    snprintf(lock, n, "%s.rotate", path);
    FILE *f = fopen(lock, "w");
    fclose(f);
    cr_assert_eq(tl_keyring_rotate(kr, path, NULL, &err), TL_EEXISTS);
    cr_assert(strstr(err.msg, ".rotate"), "%s", err.msg);
    cr_assert_eq(count_lines(path), 3);
    unlink(lock);
    free(lock);

    free(old);
    free(fresh);
    tl_keyring_free(kr);
    free(path);
}

Test(keyring, picks_up_a_rotation_made_by_another_process)
{
    unsetenv("TELLER_DATA_KEY");
    char *path = key_path();
    tl_keyring *reader = open_ok(path, true);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        tl_keyring *w = NULL;
        tl_err err = {0};
        int ok = tl_keyring_open(path, false, &w, &err) == 0 &&
                 tl_keyring_rotate(w, path, NULL, &err) == 0;
        tl_keyring_free(w);
        _exit(ok ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    tl_keyring *writer = open_ok(path, false);
    cr_assert_str_eq(tl_keyring_active_id(writer), "k2");
    char *s = seal_ok(writer, "customers.phone", "+49 30 1234567");
    /* the reader loaded only k1, yet opens a k2 value without a restart */
    cr_assert_str_eq(tl_keyring_active_id(reader), "k1");
    expect_opens(reader, "customers.phone", s, "+49 30 1234567");
    cr_assert_str_eq(tl_keyring_active_id(reader), "k2");
    free(s);
    tl_keyring_free(writer);
    tl_keyring_free(reader);
    free(path);
}

Test(keyring, concurrent_first_opens_agree_on_one_key)
{
    unsetenv("TELLER_DATA_KEY");
    char *path = key_path();
    enum { N = 6 };
    char *outs[N];
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        size_t n = strlen(path) + 16;
        outs[i] = malloc(n);
        snprintf(outs[i], n, "%s.out%d", path, i);
        pids[i] = fork();
        cr_assert_neq(pids[i], -1);
        if (pids[i] == 0) {
            tl_keyring *kr = NULL;
            tl_err err = {0};
            if (tl_keyring_open(path, true, &kr, &err) != 0)
                _exit(1);
            char *s = NULL;
            tl_keyring_seal(kr, "c", "v", 1, &s, &err);
            FILE *f = fopen(outs[i], "w");
            fputs(s, f);
            fclose(f);
            free(s);
            tl_keyring_free(kr);
            _exit(0);
        }
    }
    char first[256] = {0};
    for (int i = 0; i < N; i++) {
        int status;
        waitpid(pids[i], &status, 0);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d failed", i);
        char got[256] = {0};
        FILE *f = fopen(outs[i], "r");
        cr_assert_not_null(fgets(got, sizeof got, f));
        fclose(f);
        if (i == 0)
            memcpy(first, got, sizeof got);
        cr_assert_str_eq(got, first, "process %d used another key", i);
        free(outs[i]);
    }
    cr_assert_eq(count_lines(path), 1);
    free(path);
}

/* Writes text as a key file and expects opening it to fail with a message
 * holding every fragment. */
static void expect_bad_file(const char *text, const char *frag1, const char *frag2)
{
    char *dir = tu_tmpdir();
    char *path = tu_write_file(dir, "bad.key", text);
    tl_keyring *kr = (tl_keyring *)0x1;
    tl_err err = {0};
    int rc = tl_keyring_open(path, true, &kr, &err);
    cr_assert_lt(rc, 0, "accepted: %s", text);
    cr_assert_eq(kr, (tl_keyring *)0x1, "*out touched on error");
    cr_assert(strstr(err.msg, frag1), "error lacks \"%s\": %s", frag1, err.msg);
    if (frag2)
        cr_assert(strstr(err.msg, frag2), "error lacks \"%s\": %s", frag2, err.msg);
    free(path);
    free(dir);
}

Test(keyring, bad_key_files_name_file_and_line)
{
    unsetenv("TELLER_DATA_KEY");
    char good[64], line2[200], buf[512];
    b64_key(7, good, sizeof good);
    snprintf(line2, sizeof line2, "k1 %s\n", good);

    expect_bad_file("", "bad.key", "no keys");
    expect_bad_file("# only a comment\n\n", "bad.key", "no keys");
    expect_bad_file("k1 notbase64!!\n", "bad.key:1:", "not 32 bytes");
    snprintf(buf, sizeof buf, "# keys\n%sk2 QUJD\n", line2);
    expect_bad_file(buf, "bad.key:3:", "\"k2\"");
    snprintf(buf, sizeof buf, "%sk:2 %s\n", line2, good);
    expect_bad_file(buf, "bad.key:2:", "key id is not valid");
    snprintf(buf, sizeof buf, "%s%s", line2, line2);
    expect_bad_file(buf, "bad.key:2:", "appears twice");
    snprintf(buf, sizeof buf, "%sk2\n", line2);
    expect_bad_file(buf, "bad.key:2:", "expected \"KEYID BASE64\"");
    snprintf(buf, sizeof buf, "k1 %s extra\n", good);
    expect_bad_file(buf, "bad.key:1:", NULL);

    /* the secret never appears in a message */
    tl_err err = {0};
    char *dir = tu_tmpdir();
    snprintf(buf, sizeof buf, "k1 %sAA\n", good);
    char *path = tu_write_file(dir, "bad.key", buf);
    tl_keyring *kr = NULL;
    cr_assert_lt(tl_keyring_open(path, false, &kr, &err), 0);
    cr_assert_null(strstr(err.msg, good), "%s", err.msg);
    free(path);

    /* comments, blank lines, CRLF and padded standard base64 are fine */
    snprintf(buf, sizeof buf, "# teller data keys\r\n\r\n  k1 %s  \r\nk2\t%s\r\n", good, good);
    path = tu_write_file(dir, "ok.key", buf);
    chmod(path, 0600);
    kr = open_ok(path, false);
    cr_assert_str_eq(tl_keyring_active_id(kr), "k2");
    tl_keyring_free(kr);
    free(path);

    /* missing without create */
    snprintf(buf, sizeof buf, "%s/none.key", dir);
    cr_assert_eq(tl_keyring_open(buf, false, &kr, &err), TL_ENOTFOUND);
    cr_assert(strstr(err.msg, "none.key"), "%s", err.msg);
    cr_assert_eq(tl_keyring_open(NULL, true, &kr, &err), TL_EINVAL);
    cr_assert(strstr(err.msg, "TELLER_DATA_KEY"), "%s", err.msg);
    free(dir);
}

Test(keyring, env_key_replaces_the_file)
{
    char good[64], env[128];
    b64_key(42, good, sizeof good);
    snprintf(env, sizeof env, "e1:%s", good);
    setenv("TELLER_DATA_KEY", env, 1);
    char *path = key_path();
    tl_keyring *kr = open_ok(path, true);
    cr_assert_str_eq(tl_keyring_active_id(kr), "e1");
    cr_assert_neq(access(path, F_OK), 0, "no key file is created when the environment has one");
    char *s = seal_ok(kr, "customers.name", "Jürgen Weiß");
    cr_assert(strncmp(s, "tlenc1:e1:", 10) == 0);
    expect_opens(kr, "customers.name", s, "Jürgen Weiß");

    /* the same key in a file opens the same values and hashes the same */
    char *dir = tu_tmpdir();
    char line[128];
    snprintf(line, sizeof line, "e1 %s\n", good);
    char *kf = tu_write_file(dir, "same.key", line);
    unsetenv("TELLER_DATA_KEY");
    tl_keyring *file = open_ok(kf, false);
    expect_opens(file, "customers.name", s, "Jürgen Weiß");
    char h1[65], h2[65];
    tl_keyring_hash(kr, "customers.email", "a@b.c", 5, h1);
    tl_keyring_hash(file, "customers.email", "a@b.c", 5, h2);
    cr_assert_str_eq(h1, h2);
    tl_keyring_free(file);

    tl_err err = {0};
    cr_assert_eq(tl_keyring_rotate(kr, path, NULL, &err), TL_EUNSUPPORTED);
    cr_assert(strstr(err.msg, "TELLER_DATA_KEY"), "%s", err.msg);
    free(s);
    tl_keyring_free(kr);

    const char *bad[] = {"e1", "e1:", ":abc", "e1:short", "bad id:AAAA"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("TELLER_DATA_KEY", bad[i], 1);
        tl_keyring *k = NULL;
        cr_assert_eq(tl_keyring_open(path, true, &k, &err), TL_EINVAL, "accepted %s", bad[i]);
        cr_assert(strstr(err.msg, "TELLER_DATA_KEY"), "%s", err.msg);
        cr_assert_null(k);
    }
    unsetenv("TELLER_DATA_KEY");
    free(kf);
    free(dir);
    free(path);
}

/* Values of every length from empty to past the 512-byte stack buffer of
 * unseal open again; a body of a length base64 cannot have, or whose last
 * character carries bits past the end, is damaged, not opened. */
Test(keyring, values_of_every_length_round_trip_and_base64_is_strict)
{
    unsetenv("TELLER_DATA_KEY");
    char *path = key_path();
    tl_keyring *kr = open_ok(path, true);
    char pt[700];
    for (size_t len = 0; len < sizeof pt; len += len < 40 ? 1 : 37) {
        for (size_t i = 0; i < len; i++)
            pt[i] = (char)('a' + (i * 7 + len) % 26);
        pt[len] = 0;
        char *s = seal_ok(kr, "customers.address", pt);
        expect_opens(kr, "customers.address", s, pt);
        size_t n = strlen(s);
        /* one character more: a length base64 never produces when n % 4 == 0 */
        char *longer = malloc(n + 2);
        memcpy(longer, s, n);
        longer[n] = 'A';
        longer[n + 1] = 0;
        if ((n - strlen("tlenc1:") - 3) % 4 == 0)
            expect_crypto_error(kr, "customers.address", longer, n + 1, "damaged");
        free(longer);
        /* the last character with its unused low bits set */
        size_t body = n - strlen("tlenc1:") - 3; /* "k1:" */
        if (body % 4 != 0) {
            char *t = strdup(s);
            t[n - 1] = t[n - 1] == '_' ? '-' : '_'; /* '_' is 63: every low bit set */
            expect_crypto_error(kr, "customers.address", t, n, NULL);
            free(t);
        }
        free(s);
    }
    tl_keyring_free(kr);
    free(path);
}
