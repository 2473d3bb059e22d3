/* teller schema: the columns each table takes, from the one schema table.
 * `teller schema --markdown` generates docs/data-formats.md's table section;
 * tests/integration/cli.sh checks that the two agree. */
#include "cli.h"

#include <string.h>

static bool opt_markdown;

const struct cli_opt cli_schema_opts[] = {
    {"markdown", false, NULL, &opt_markdown, "--markdown     Markdown, as in docs/data-formats.md"},
    {0},
};

static const char *type_name(const struct tl_column_spec *c, char *buf, size_t n)
{
    switch (c->type) {
    case TL_COL_ID: return "id";
    case TL_COL_TEXT: snprintf(buf, n, "text (max %zu bytes)", c->max_len); return buf;
    case TL_COL_INT: snprintf(buf, n, "integer %lld..%lld", (long long)c->min, (long long)c->max); return buf;
    case TL_COL_REAL: snprintf(buf, n, "number %lld..%lld", (long long)c->min, (long long)c->max); return buf;
    case TL_COL_BOOL: return "boolean";
    case TL_COL_MONEY: snprintf(buf, n, "money in `%s`", c->currency_col); return buf;
    case TL_COL_CURRENCY: return "ISO 4217 code";
    case TL_COL_TIMESTAMP: return "ISO 8601 timestamp";
    case TL_COL_DATE: return "date YYYY-MM-DD";
    case TL_COL_ENUM: {
        size_t off = 0;
        buf[0] = 0;
        for (const char *const *v = c->enum_values; *v && off + 2 < n; v++)
            off += (size_t)snprintf(buf + off, n - off, "%s%s", v == c->enum_values ? "" : "|", *v);
        return buf;
    }
    case TL_COL_REF: snprintf(buf, n, "id in %s", c->ref_table); return buf;
    case TL_COL_EMAIL: return "email";
    case TL_COL_COUNTRY: return "ISO 3166 alpha-2";
    }
    return "?";
}

static void print_table(const struct tl_table_spec *t, json_t *json)
{
    char buf[512];
    if (json) {
        json_t *cols = json_array();
        for (size_t i = 0; i < t->n_columns; i++) {
            const struct tl_column_spec *c = &t->columns[i];
            json_array_append_new(cols, json_pack("{s:s,s:s,s:s,s:b,s:b,s:s}", "name", c->name,
                                                  "store_column",
                                                  tl_schema_db_name(c), "type", type_name(c, buf, sizeof buf),
                                                  "required", c->required, "pii", c->pii, "doc", c->doc));
            json_object_set_new(json_array_get(cols, i), "computed", json_boolean(c->derived));
        }
        json_object_set_new(json, t->name, json_pack("{s:s,s:b,s:o}", "doc", t->doc, "ingestible",
                                                     t->ingestible, "columns", cols));
        return;
    }
    if (opt_markdown) {
        printf("### %s\n\n%s%s.\n\n| column | type | required | meaning |\n|---|---|---|---|\n", t->name,
               t->doc, t->ingestible ? "" : " (system table, not loaded by `teller ingest`)");
        for (size_t i = 0; i < t->n_columns; i++) {
            const struct tl_column_spec *c = &t->columns[i];
            printf("| `%s` | %s | %s | %s%s%s |\n", c->name, type_name(c, buf, sizeof buf),
                   c->required ? "yes" : "", c->doc, c->pii ? " (PII, encrypted at rest)" : "",
                   c->derived ? " (computed by teller, not read from files)" : "");
        }
        printf("\n");
        return;
    }
    printf("%s: %s\n", t->name, t->doc);
    for (size_t i = 0; i < t->n_columns; i++) {
        const struct tl_column_spec *c = &t->columns[i];
        printf("  %-20s %-40s %s%s%s\n", c->name, type_name(c, buf, sizeof buf),
               c->required ? "required" : "", c->pii ? " pii" : "", c->derived ? " computed" : "");
    }
}

int cli_cmd_schema(struct cli_env *env)
{
    const struct tl_table_spec *only = NULL;
    if (env->n_args == 1 && !(only = tl_schema_table(env->args[0])))
        return cli_usage_error(env, "unknown table \"%s\"", env->args[0]);
    json_t *json = env->json ? json_object() : NULL;
    for (size_t i = 0; i < tl_schema_table_count(); i++)
        if (!only || tl_schema_table_at(i) == only)
            print_table(tl_schema_table_at(i), json);
    if (json)
        cli_print_json(json);
    return CLI_OK;
}
