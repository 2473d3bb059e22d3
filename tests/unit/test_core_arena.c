/* test_core_arena.c - bump allocation with a cap. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include <teller/arena.h>

Test(arena, alignment_and_contents)
{
    tl_arena *a = tl_arena_new(256, 0);
    cr_assert(a);
    char *prev = NULL;
    for (int i = 1; i < 200; i++) {
        char *p = tl_arena_alloc(a, (size_t)i);
        cr_assert(p);
        cr_assert_eq((uintptr_t)p % 16, 0, "16-byte aligned");
        memset(p, i, (size_t)i);
        if (prev)
            cr_assert_eq((unsigned char)prev[0], (unsigned char)(i - 1), "earlier memory intact");
        prev = p;
    }
    cr_assert_eq(tl_arena_used(a), 199 * 200 / 2);
    tl_arena_free(a);
}

Test(arena, strings)
{
    tl_arena *a = tl_arena_new(0, 0);
    char *s = tl_arena_strndup(a, "hello world", 5);
    cr_assert_str_eq(s, "hello");
    char *e = tl_arena_strndup(a, "", 0);
    cr_assert_str_eq(e, "");
    char *f = tl_arena_sprintf(a, "%s-%d-%05.1f", "x", 42, 3.14159);
    cr_assert_str_eq(f, "x-42-003.1");
    char big[3000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = 0;
    char *g = tl_arena_sprintf(a, "<%s>", big);
    cr_assert_eq(strlen(g), sizeof big + 1);
    int *z = tl_arena_calloc(a, 100, sizeof(int));
    for (int i = 0; i < 100; i++)
        cr_assert_eq(z[i], 0);
    cr_assert_null(tl_arena_calloc(a, SIZE_MAX / 2, 4), "count*size overflow refused");
    cr_assert_null(tl_arena_alloc(a, SIZE_MAX), "absurd size refused");
    tl_arena_free(a);
}

Test(arena, big_allocations_get_their_own_block)
{
    tl_arena *a = tl_arena_new(1024, 0);
    char *big = tl_arena_alloc(a, 1 << 20);
    cr_assert(big);
    memset(big, 1, 1 << 20);
    char *small = tl_arena_alloc(a, 10);
    cr_assert(small);
    tl_arena_free(a);
}

Test(arena, cap_refuses_growth)
{
    tl_arena *a = tl_arena_new(1024, 4096);
    cr_assert(a);
    int n = 0;
    while (tl_arena_alloc(a, 100) != NULL)
        n++;
    /* 4096 bytes of blocks, 112 bytes per aligned 100-byte allocation */
    cr_assert_geq(n, 30);
    cr_assert_leq(n, 4096 / 112);
    cr_assert_null(tl_arena_alloc(a, 5000), "one allocation over the cap");
    /* reset gives the memory back */
    tl_arena_reset(a);
    cr_assert_eq(tl_arena_used(a), 0);
    int m = 0;
    while (tl_arena_alloc(a, 100) != NULL)
        m++;
    cr_assert_eq(m, n, "same capacity after reset");
    tl_arena_free(a);
}

Test(arena, cap_smaller_than_block)
{
    tl_arena *a = tl_arena_new(65536, 1000);
    cr_assert(a);
    cr_assert(tl_arena_alloc(a, 900));
    cr_assert_null(tl_arena_alloc(a, 900));
    tl_arena_free(a);
}

Test(arena, reset_reuses_the_first_block)
{
    tl_arena *a = tl_arena_new(4096, 0);
    void *first = tl_arena_alloc(a, 64);
    for (int i = 0; i < 1000; i++)
        cr_assert(tl_arena_alloc(a, 1000));
    tl_arena_reset(a);
    void *again = tl_arena_alloc(a, 64);
    cr_assert_eq(again, first, "the first block is kept and reused");
    tl_arena_free(a);
    tl_arena_free(NULL);
}
