/* test_core_csv.c - the streaming CSV reader (libcsv underneath) and writer. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <teller/csv.h>

#include "testutil.h"

/* Reads everything in text[0..len) and renders it as one string:
 * "L<line>:[f1|f2|...]" per record, quoted fields as "<q>f", and the error
 * (if any) as "ERR<code>:<msg>". */
static char *dump_n(const char *text, size_t len, size_t max_field)
{
    FILE *fp = fmemopen((void *)text, len, "r");
    cr_assert(fp);
    tl_csv_reader *r = NULL;
    tl_err err = {0};
    cr_assert_eq(tl_csv_reader_open(fp, "t.csv", max_field, &r, &err), 0, "%s", err.msg);
    size_t cap = 1 << 16, o = 0;
    char *out = malloc(cap);
    out[0] = '\0';
    const tl_csv_record *rec;
    int rc;
    while ((rc = tl_csv_next(r, &rec, &err)) > 0) {
        o += (size_t)snprintf(out + o, cap - o, "L%llu:[", (unsigned long long)rec->line);
        for (size_t i = 0; i < rec->n_fields; i++) {
            cr_assert_eq(strlen(rec->fields[i]), rec->lens[i], "fields are NUL-terminated");
            o += (size_t)snprintf(out + o, cap - o, "%s%s%s", i ? "|" : "",
                                  rec->quoted[i] ? "<q>" : "", rec->fields[i]);
        }
        o += (size_t)snprintf(out + o, cap - o, "]");
    }
    if (rc < 0) {
        cr_assert_eq(err.code, rc);
        o += (size_t)snprintf(out + o, cap - o, "ERR%d:%s", rc, err.msg);
        /* errors are sticky */
        tl_err err2 = {0};
        cr_assert_eq(tl_csv_next(r, &rec, &err2), rc);
        cr_assert_str_eq(err2.msg, err.msg);
    } else {
        cr_assert_eq(tl_csv_next(r, &rec, &err), 0, "end stays the end");
    }
    tl_csv_reader_close(r);
    fclose(fp);
    return out;
}

static char *dump(const char *text)
{
    return dump_n(text, strlen(text), 0);
}

static void expect(const char *text, const char *want)
{
    char *got = dump(text);
    cr_assert_str_eq(got, want, "input: %s", text);
    free(got);
}

Test(csv, simple_records)
{
    expect("a,b,c\n1,2,3\n", "L1:[a|b|c]L2:[1|2|3]");
    expect("a,b,c\n1,2,3", "L1:[a|b|c]L2:[1|2|3]"); /* no final newline */
    expect("", "");
    expect("\n\n", "");
    expect("x\n", "L1:[x]");
}

Test(csv, empty_fields_and_quoted_empties)
{
    expect("a,,c\n", "L1:[a||c]");
    expect(",\n", "L1:[|]");
    expect("a,\"\",c\n", "L1:[a|<q>|c]");
    expect("\"\"\n", "L1:[<q>]");
    expect("a,b,\n", "L1:[a|b|]");
    expect("a,b,\"\"", "L1:[a|b|<q>]");
}

Test(csv, quoting)
{
    expect("\"a,b\",c\n", "L1:[<q>a,b|c]");
    expect("\"say \"\"hi\"\"\",x\n", "L1:[<q>say \"hi\"|x]");
    expect("\"\"\"\"\n", "L1:[<q>\"]");
    expect("a,\"b\",\"c\"\n1,2,\"3\"\n", "L1:[a|<q>b|<q>c]L2:[1|2|<q>3]");
}

Test(csv, newlines_inside_quotes_keep_line_numbers)
{
    expect("id,note\n1,\"two\nlines\"\n2,x\n3,\"a\r\nb\"\n4,y\n",
           "L1:[id|note]L2:[1|<q>two\nlines]L4:[2|x]L5:[3|<q>a\r\nb]L7:[4|y]");
}

Test(csv, crlf_and_blank_lines)
{
    expect("a,b\r\n1,2\r\n", "L1:[a|b]L2:[1|2]");
    expect("a,b\r\n\r\n\r\n1,2\r\n", "L1:[a|b]L4:[1|2]");
    expect("\n\na,b\n\n1,2\n\n", "L3:[a|b]L5:[1|2]");
    expect("a\n   \n\t\nb\n", "L1:[a]L4:[b]");
}

Test(csv, bom_is_stripped)
{
    expect("\xef\xbb\xbfid,name\n1,x\n", "L1:[id|name]L2:[1|x]");
    expect("\xef\xbb\xbf\"id\",name\n", "L1:[<q>id|name]");
    /* only at the very start */
    expect("a\n\xef\xbb\xbf" "b\n", "L1:[a]L2:[\xef\xbb\xbf" "b]");
}

Test(csv, blanks_belong_to_the_field)
{
    /* RFC 4180: nothing is trimmed, so validation sees " 12.00" as written */
    expect(" a , b \n", "L1:[ a | b ]");
    expect("x, 12.00,\t\n", "L1:[x| 12.00|\t]");
    expect("\" a \",\"b \"\n", "L1:[<q> a |<q>b ]");
    expect("a b,c\n", "L1:[a b|c]");
    /* blanks outside quotes make the quoting broken */
    char *got = dump("a, \"b\",c\n");
    cr_assert(strstr(got, "ERR-5:t.csv:1:2: stray quote"), "%s", got);
    free(got);
    got = dump("a,\"b\" ,c\n");
    cr_assert(strstr(got, "ERR-5:t.csv:1:2: stray quote"), "%s", got);
    free(got);
    /* bytes that are not UTF-8 pass through untouched, blanks included */
    expect("a b,\t\xff c\xfe\n x\xff,\"\xff \"\n\t\n", "L1:[a b|\t\xff c\xfe]L2:[ x\xff|<q>\xff ]");
    /* a line of blanks alone is a blank line; a quoted blank is a value */
    expect("a\n \t \nb\n\" \"\n", "L1:[a]L3:[b]L4:[<q> ]");
    expect("a\n  ", "L1:[a]");
}

Test(csv, utf16_and_utf32_are_named)
{
    const char u16le[] = "\xff\xfei\0d\0\n\0";
    char *got = dump_n(u16le, sizeof u16le - 1, 0);
    cr_assert(strstr(got, "ERR-5:t.csv:1: the input is UTF-16"), "%s", got);
    free(got);
    const char u16be[] = "\xfe\xff\0i\0d";
    got = dump_n(u16be, sizeof u16be - 1, 0);
    cr_assert(strstr(got, "UTF-16"), "%s", got);
    free(got);
    const char u32le[] = "\xff\xfe\0\0i\0\0\0";
    got = dump_n(u32le, sizeof u32le - 1, 0);
    cr_assert(strstr(got, "UTF-32"), "%s", got);
    free(got);
}

Test(csv, column_names_in_errors)
{
    const char *text = "id,amount,note\n1,2,\"open\n";
    FILE *fp = fmemopen((void *)text, strlen(text), "r");
    tl_csv_reader *r;
    tl_err err = {0};
    cr_assert_eq(tl_csv_reader_open(fp, "tx.csv", 0, &r, &err), 0);
    const tl_csv_record *rec;
    cr_assert_eq(tl_csv_next(r, &rec, &err), 1);
    cr_assert_eq(tl_csv_reader_set_names(r, rec->n_fields, rec->fields), 0);
    cr_assert_eq(tl_csv_next(r, &rec, &err), TL_EPARSE);
    cr_assert(strstr(err.msg, "tx.csv:2:3: column \"note\": quoted field is not closed"), "%s",
              err.msg);
    cr_assert_eq(tl_csv_reader_set_names(r, 1, NULL), TL_EINVAL);
    tl_csv_reader_close(r);
    fclose(fp);

    /* past the named columns, the number alone */
    text = "a,b,c,d\n";
    fp = fmemopen((void *)text, strlen(text), "r");
    cr_assert_eq(tl_csv_reader_open(fp, "w.csv", 1, &r, &err), 0);
    const char *names[] = {"x", "y"};
    cr_assert_eq(tl_csv_reader_set_names(r, 2, names), 0);
    cr_assert_eq(tl_csv_next(r, &rec, &err), 1);
    tl_csv_reader_close(r);
    fclose(fp);
    text = "a,bb\n";
    fp = fmemopen((void *)text, strlen(text), "r");
    cr_assert_eq(tl_csv_reader_open(fp, "w.csv", 1, &r, &err), 0);
    cr_assert_eq(tl_csv_reader_set_names(r, 2, names), 0);
    cr_assert_eq(tl_csv_next(r, &rec, &err), TL_ETOOBIG);
    cr_assert(strstr(err.msg, "w.csv:1:2: column \"y\": field is too large (the limit is 1 bytes)"),
              "%s", err.msg);
    tl_csv_reader_close(r);
    fclose(fp);
}

Test(csv, utf8_passes_through)
{
    expect("名前,é\n", "L1:[名前|é]");
}

Test(csv, unterminated_quote_names_line)
{
    char *got = dump("a,b\n1,2\n3,\"open\n4,5\n");
    cr_assert(strstr(got, "L1:[a|b]L2:[1|2]ERR-5:t.csv:3:2: "), "%s", got);
    cr_assert(strstr(got, "not closed"), "%s", got);
    free(got);
    got = dump("a,\"b");
    cr_assert(strstr(got, "ERR-5:t.csv:1:2:"), "%s", got);
    free(got);
}

Test(csv, stray_quotes_name_line_and_column)
{
    char *got = dump("a,b,c\nx,y,z\n1,b\"c\",3\n");
    cr_assert(strstr(got, "L1:[a|b|c]L2:[x|y|z]ERR-5:t.csv:3:2: stray quote"), "%s", got);
    free(got);
    got = dump("a,\"b\"c\n");
    cr_assert(strstr(got, "ERR-5:t.csv:1:2: stray quote"), "%s", got);
    free(got);
    /* the record starting on line 1 spans to line 2, where the error is */
    got = dump("\"a\nb\"x,c\n");
    cr_assert(strstr(got, "ERR-5:t.csv:2:1: stray quote"), "%s", got);
    free(got);
}

Test(csv, nul_byte_is_an_error)
{
    const char text[] = "a,b\n1,2\n3,x\0y\n";
    char *got = dump_n(text, sizeof text - 1, 0);
    cr_assert(strstr(got, "L1:[a|b]L2:[1|2]ERR-5:t.csv:3:2: NUL byte"), "%s", got);
    free(got);
    const char first[] = "\0a\n";
    got = dump_n(first, sizeof first - 1, 0);
    cr_assert(strstr(got, "ERR-5:t.csv:1:1: NUL byte"), "%s", got);
    free(got);
}

Test(csv, oversize_field)
{
    /* the limit is inclusive: 8 bytes pass, 9 fail */
    char *got = dump_n("12345678,x\n", 11, 8);
    cr_assert_str_eq(got, "L1:[12345678|x]");
    free(got);
    got = dump_n("a,b\n1,123456789\n", 16, 8);
    cr_assert(strstr(got, "L1:[a|b]ERR-10:t.csv:2:2: field is too large (the limit is 8 bytes)"),
              "%s", got);
    free(got);
    got = dump_n("\"12345678\"\n", 11, 8);
    cr_assert_str_eq(got, "L1:[<q>12345678]");
    free(got);
    got = dump_n("\"12\"\"45678\"\n", 12, 8);
    cr_assert_str_eq(got, "L1:[<q>12\"45678]");
    free(got);
}

Test(csv, huge_field_fails_in_bounded_memory)
{
    /* A 64 MiB line with no newline and a 1 KiB limit must fail early
     * instead of buffering it all. */
    size_t n = 64u << 20;
    char *big = malloc(n);
    memset(big, 'x', n);
    char *got = dump_n(big, n, 1024);
    cr_assert(strstr(got, "ERR-10:t.csv:1:1: field is too large (the limit is 1024 bytes)"), "%.200s",
              got);
    free(got);
    /* the same inside an unterminated quote spanning many lines */
    for (size_t i = 0; i < n; i += 100)
        big[i] = '\n';
    big[0] = '"';
    got = dump_n(big, n, 1024);
    cr_assert(strstr(got, "ERR-10:t.csv:"), "%.200s", got);
    cr_assert(strstr(got, "field is too large"), "%.200s", got);
    free(got);
    free(big);
}

Test(csv, ragged_records_are_returned_as_is)
{
    /* the reader does not judge the column count: ingest names the line */
    expect("a,b,c\n1,2\n1,2,3,4\n", "L1:[a|b|c]L2:[1|2]L3:[1|2|3|4]");
}

Test(csv, records_across_chunk_boundaries)
{
    /* 100k records; fields straddle the 64 KiB read boundary many times */
    size_t n = 100000;
    size_t cap = n * 40;
    char *text = malloc(cap);
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(text + o, cap - o, i % 7 == 0 ? "%zu,\"q,%zu\"\r\n" : "%zu,v%zu\n", i,
                              i * 3);
    FILE *fp = fmemopen(text, o, "r");
    tl_csv_reader *r;
    tl_err err = {0};
    cr_assert_eq(tl_csv_reader_open(fp, "big.csv", 0, &r, &err), 0);
    const tl_csv_record *rec;
    size_t i = 0;
    int rc;
    char want[64];
    while ((rc = tl_csv_next(r, &rec, &err)) > 0) {
        cr_assert_eq(rec->n_fields, 2);
        cr_assert_eq(rec->line, i + 1);
        snprintf(want, sizeof want, "%zu", i);
        cr_assert_str_eq(rec->fields[0], want);
        snprintf(want, sizeof want, i % 7 == 0 ? "q,%zu" : "v%zu", i * 3);
        cr_assert_str_eq(rec->fields[1], want);
        cr_assert_eq(rec->quoted[1], i % 7 == 0);
        cr_assert_not(rec->quoted[0]);
        i++;
    }
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert_eq(i, n);
    tl_csv_reader_close(r);
    fclose(fp);
    free(text);
}

Test(csv, many_fields)
{
    size_t n = 5000;
    size_t size = n * 8 + 2;
    char *text = malloc(size);
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(text + o, size - o, i ? ",\"%zu\"" : "\"%zu\"", i);
    text[o++] = '\n';
    text[o] = 0;
    FILE *fp = fmemopen(text, o, "r");
    tl_csv_reader *r;
    cr_assert_eq(tl_csv_reader_open(fp, "wide.csv", 0, &r, NULL), 0);
    const tl_csv_record *rec;
    cr_assert_eq(tl_csv_next(r, &rec, NULL), 1);
    cr_assert_eq(rec->n_fields, n);
    cr_assert_str_eq(rec->fields[4999], "4999");
    cr_assert(rec->quoted[4999]);
    cr_assert_eq(tl_csv_next(r, &rec, NULL), 0);
    tl_csv_reader_close(r);
    fclose(fp);
    free(text);
}

Test(csv, reads_a_real_file)
{
    char *dir = tu_tmpdir();
    char *path = tu_write_file(dir, "x.csv", "id,amount\nc1,12.30\nc2,\"1,000.00\"\n");
    FILE *fp = fopen(path, "rb");
    tl_csv_reader *r;
    cr_assert_eq(tl_csv_reader_open(fp, path, 0, &r, NULL), 0);
    const tl_csv_record *rec;
    cr_assert_eq(tl_csv_next(r, &rec, NULL), 1);
    cr_assert_eq(tl_csv_next(r, &rec, NULL), 1);
    cr_assert_eq(tl_csv_next(r, &rec, NULL), 1);
    cr_assert_str_eq(rec->fields[1], "1,000.00");
    cr_assert_eq(rec->line, 3);
    cr_assert_eq(tl_csv_next(r, &rec, NULL), 0);
    tl_csv_reader_close(r);
    fclose(fp);
    remove(path);
    rmdir(dir);
    free(path);
    free(dir);
}

Test(csv, open_rejects_bad_arguments)
{
    tl_err err = {0};
    tl_csv_reader *r = (tl_csv_reader *)0x1;
    cr_assert_eq(tl_csv_reader_open(NULL, "x", 0, &r, &err), TL_EINVAL);
    cr_assert_eq(r, (tl_csv_reader *)0x1, "untouched on error");
    tl_csv_reader_close(NULL);
}

/* ---- writer ---- */

static char *write_fields(size_t n, const char *const *fields)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    cr_assert_eq(tl_csv_write_record(fp, n, fields), 0);
    fclose(fp);
    return buf;
}

Test(csv, writer_quotes_only_when_needed)
{
    const char *f[] = {"plain", "a,b", "say \"hi\"", "two\nlines", "cr\rx", " lead", "trail ",
                       "", NULL, "mid space", "é"};
    char *out = write_fields(11, f);
    cr_assert_str_eq(out, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\rx\",\" lead\","
                          "\"trail \",,,mid space,é\n");
    free(out);
    const char *one[] = {""};
    out = write_fields(1, one);
    cr_assert_str_eq(out, "\"\"\n", "a lone empty field must not become a blank line");
    free(out);
}

Test(csv, write_then_read_round_trips)
{
    const char *f[] = {"a,b", "\"", "x\r\ny", " s ", "", "\t", "plain", "\"\"", "é,\"ü\""};
    size_t n = sizeof f / sizeof f[0];
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    for (int k = 0; k < 3; k++)
        cr_assert_eq(tl_csv_write_record(fp, n, f), 0);
    const char *lone[] = {""};
    cr_assert_eq(tl_csv_write_record(fp, 1, lone), 0);
    fclose(fp);

    FILE *in = fmemopen(buf, len, "r");
    tl_csv_reader *r;
    cr_assert_eq(tl_csv_reader_open(in, "rt", 0, &r, NULL), 0);
    const tl_csv_record *rec;
    for (int k = 0; k < 3; k++) {
        tl_err err = {0};
        cr_assert_eq(tl_csv_next(r, &rec, &err), 1, "%s", err.msg);
        cr_assert_eq(rec->n_fields, n);
        for (size_t i = 0; i < n; i++) {
            cr_assert_eq(rec->lens[i], strlen(f[i]));
            cr_assert_str_eq(rec->fields[i], f[i]);
        }
    }
    cr_assert_eq(tl_csv_next(r, &rec, NULL), 1);
    cr_assert_eq(rec->n_fields, 1);
    cr_assert_eq(rec->lens[0], 0);
    cr_assert_eq(tl_csv_next(r, &rec, NULL), 0);
    tl_csv_reader_close(r);
    fclose(in);
    free(buf);
}

Test(csv, write_field_reports_io_errors)
{
    FILE *fp = fopen("/dev/full", "w");
    if (!fp)
        cr_skip_test("no /dev/full");
    setvbuf(fp, NULL, _IONBF, 0);
    cr_assert_eq(tl_csv_write_field(fp, "abc", 3), TL_EIO);
    cr_assert_eq(tl_csv_write_field(fp, "a,c", 3), TL_EIO);
    fclose(fp);
}
