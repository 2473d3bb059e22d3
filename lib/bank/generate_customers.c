/*
 * generate_customers.c - pass A: who the customers are. Age, place,
 * occupation and income come first, then the latent traits (financial
 * fragility, risk appetite) the later passes read, then PII that looks
 * real, then (generate_portfolio.c) the products each customer holds.
 */
#include "generate_internal.h"
#include "core/internal.h"

#include <teller/datetime.h>

#include <stdlib.h>

static const struct {
    int lo, hi;
    double weight;
} AGE_BANDS[] = {{18, 24, 9},  {25, 34, 16}, {35, 44, 16}, {45, 54, 17},
                 {55, 64, 18}, {65, 74, 13}, {75, 90, 11}};

static const char *const SEGMENT_NAMES[] = {"mass", "affluent", "private", "youth", "senior", "smb"};

/* ------------------------------------------------------------ profile --- */

static int draw_city(struct gen_rng *r)
{
    double w[64];
    size_t n = tl__gen_n_cities < 64 ? tl__gen_n_cities : 64;
    for (size_t i = 0; i < n; i++)
        w[i] = tl__gen_cities[i].residents;
    return (int)tl__gen_pick(r, w, n);
}

static int draw_occupation(struct gen_rng *r, int age)
{
    if (age >= 67)
        return gen_chance(r, 0.94)  ? GEN_O_RETIRED
               : gen_chance(r, 0.6) ? GEN_O_SELF_EMPLOYED
                                    : GEN_O_PHYSICIAN;
    if (age >= 63 && gen_chance(r, 0.45))
        return GEN_O_RETIRED;
    if (age <= 24 && gen_chance(r, 0.48))
        return GEN_O_STUDENT;
    if (age <= 29 && gen_chance(r, 0.10))
        return GEN_O_STUDENT;
    if (gen_chance(r, 0.05))
        return GEN_O_UNEMPLOYED;
    double w[GEN_O_COUNT];
    for (int o = 0; o < GEN_O_COUNT; o++)
        w[o] = tl__gen_occupations[o].weight;
    w[GEN_O_UNEMPLOYED] = 0;
    if (age < 24) { /* degrees first */
        w[GEN_O_TEACHER] = w[GEN_O_PHYSICIAN] = w[GEN_O_LAWYER] = w[GEN_O_MANAGER] = 0;
        w[GEN_O_ENGINEER] *= 0.2;
        w[GEN_O_SOFTWARE] *= 0.4;
        w[GEN_O_CIVIL_SERVANT] *= 0.5;
    } else if (age < 28) { /* senior roles come later in a career */
        w[GEN_O_MANAGER] *= 0.2;
        w[GEN_O_PHYSICIAN] *= 0.3;
        w[GEN_O_LAWYER] *= 0.3;
    }
    return (int)tl__gen_pick(r, w, GEN_O_COUNT);
}

static int draw_household(struct gen_rng *r, int age)
{
    static const double young[] = {0, 55, 28, 10, 6, 1};
    static const double adult[] = {0, 38, 34, 16, 9, 3};
    static const double family[] = {0, 22, 28, 21, 21, 8};
    static const double older[] = {0, 30, 56, 9, 4, 1};
    static const double old[] = {0, 50, 47, 2, 1, 0};
    const double *w = age < 25 ? young : age < 35 ? adult : age < 55 ? family : age < 70 ? older : old;
    int h = (int)tl__gen_pick(r, w, 6);
    if (h == 5)
        h += (int)tl__gen_poisson(r, 0.4);
    return h;
}

static double net_rate(int occupation, double gross)
{
    switch (occupation) {
    case GEN_O_STUDENT: return 0.95;
    case GEN_O_RETIRED: return 0.86;
    case GEN_O_UNEMPLOYED: return 1.0;
    case GEN_O_SELF_EMPLOYED: return 0.64;
    default: return gen_clamp(0.72 - 0.06 * log2(gross / 25000.0), 0.50, 0.80);
    }
}

static void draw_profile(struct gen_world *w, struct gen_cust *c, struct gen_rng *r, double *wealth)
{
    double bw[8];
    size_t nb = sizeof AGE_BANDS / sizeof AGE_BANDS[0];
    for (size_t i = 0; i < nb; i++)
        bw[i] = AGE_BANDS[i].weight;
    size_t b = tl__gen_pick(r, bw, nb);
    int age = gen_range(r, AGE_BANDS[b].lo, AGE_BANDS[b].hi);
    c->birth_day = w->end_day - (int32_t)(age * 365.2425) - 1 - (int32_t)gen_below(r, 364);
    while (tl__gen_age_at(c->birth_day, w->end_day) < 18)
        c->birth_day--;
    age = tl__gen_age_at(c->birth_day, w->end_day);
    c->age = (uint8_t)age;

    c->city = (uint16_t)draw_city(r);
    const struct gen_city *city = &tl__gen_cities[c->city];
    c->occupation = (uint8_t)draw_occupation(r, age);
    const struct gen_occupation_info *oc = &tl__gen_occupations[c->occupation];

    /* income: occupation x region x career stage, log-normal within */
    double z = tl__gen_normal(r);
    double career = c->occupation == GEN_O_RETIRED || c->occupation == GEN_O_STUDENT
                        ? 1.0
                        : 0.72 + 0.45 * (1.0 - exp(-(age - 20) / 12.0));
    double region = c->occupation == GEN_O_RETIRED ? sqrt(city->income_mult) : city->income_mult;
    double gross = oc->median_eur * region * career * exp(oc->sigma * z);
    if (gross < 3000)
        gross = 3000;
    gross = floor(gross / 100.0 + 0.5) * 100.0; /* declared incomes are round */
    c->income_minor = (int64_t)gross * 100;
    c->net_month_minor = (int64_t)(gross * net_rate(c->occupation, gross) / 12.0 * 100.0);
    c->household = (uint8_t)draw_household(r, age);

    /* latent traits: fragility leans against income, appetite with it */
    double inc = log(gross / 45000.0);
    double f = 0.85 * tl__gen_normal(r) - 0.35 * z;
    if (c->occupation == GEN_O_UNEMPLOYED)
        f += 0.5;
    if (c->occupation == GEN_O_CIVIL_SERVANT || c->occupation == GEN_O_TEACHER)
        f -= 0.3;
    if (c->occupation == GEN_O_SELF_EMPLOYED)
        f += 0.2;
    c->fragility = (float)f;
    double a = tl__gen_normal(r) + 0.35 * inc - 0.02 * (age - 45);
    c->appetite = (float)a;
    c->risk_pref = (uint8_t)gen_clamp(floor(3.0 + a + 0.5), 1, 5);

    double stab = oc->stability * exp(-0.3 * f);
    int max_years = age - 18 - (c->occupation == GEN_O_STUDENT ? 0 : 3);
    if (max_years < 0)
        max_years = 0;
    double years = -log(1.0 - gen_unif(r)) * 7.0 * stab;
    if (c->occupation == GEN_O_RETIRED || c->occupation == GEN_O_UNEMPLOYED)
        years = 0;
    c->employment_years = (uint8_t)gen_clamp(floor(years), 0, max_years);

    bool big_city = city->residents >= 5.0;
    double car = age < 23 ? 0.25 : age > 80 ? 0.3 : big_city ? 0.5 : 0.75;
    if (gross < 20000)
        car *= 0.6;
    c->has_car = gen_chance(r, car);
    c->spend_ratio = (float)gen_clamp(0.87 + 0.07 * f - 0.04 * inc + 0.04 * tl__gen_normal(r), 0.55, 1.2);
    c->cash_share = (float)gen_clamp(0.04 + 0.0035 * (age - 18) + 0.04 * tl__gen_normal(r), 0.02, 0.5);
    c->engagement = (float)tl__gen_lognormal(r, age < 35 ? 1.4 : age < 60 ? 1.0 : 0.6, 0.5);
    c->revolver = gen_chance(r, gen_sigmoid(-1.6 + 1.1 * f));

    /* financial assets beyond the current account */
    double years_saving = age > 22 ? age - 22 : 0;
    *wealth = gross * tl__gen_lognormal(r, 0.08 + 0.035 * years_saving, 0.9) * exp(-0.45 * f);
    c->investor =
        gen_chance(r, gen_sigmoid(-1.6 + 0.9 * inc + 0.5 * a + 0.4 * log(*wealth / 20000.0 + 0.05)));

    /* segment: the bank's own rule of thumb */
    if (gross >= 150000 || *wealth >= 750000)
        c->segment = GEN_SEG_PRIVATE;
    else if (c->occupation == GEN_O_SELF_EMPLOYED && gen_chance(r, 0.6))
        c->segment = GEN_SEG_SMB;
    else if (age < 26)
        c->segment = GEN_SEG_YOUTH;
    else if (age >= 65 && gross < 70000)
        c->segment = GEN_SEG_SENIOR;
    else if (gross >= 75000 || *wealth >= 150000)
        c->segment = GEN_SEG_AFFLUENT;
    else
        c->segment = GEN_SEG_MASS;

    /* tenure: most customers are old ones; some joined during the history */
    int32_t adult = c->birth_day + 6575;
    if (adult > w->end_day)
        adult = w->end_day;
    int32_t latest = w->end_day - 7 > adult ? w->end_day - 7 : adult;
    if (gen_chance(r, 0.08) || adult >= w->start_day) {
        int32_t lo = adult > w->start_day - 365 ? adult : w->start_day - 365;
        if (lo > latest)
            lo = latest;
        c->since_day = lo + (int32_t)gen_below(r, (uint32_t)(latest - lo + 1));
    } else {
        double tenure_days = -log(1.0 - gen_unif(r)) * 9.0 * 365.25;
        int32_t since = w->start_day - 1 - (int32_t)tenure_days;
        c->since_day = since < adult ? adult : since;
    }
}

/* ---------------------------------------------------------------- PII --- */

/* Appends the lower-case ASCII form of a UTF-8 name for an email address:
 * umlauts become ue/oe/ae, other accents are dropped, spaces and other
 * characters vanish. */
static size_t ascii_fold(const char *s, char *out, size_t size)
{
    static const struct {
        const char *from, *to;
    } map[] = {{"ä", "ae"}, {"ö", "oe"}, {"ü", "ue"}, {"Ä", "ae"}, {"Ö", "oe"}, {"Ü", "ue"}, {"ß", "ss"},
               {"é", "e"},  {"è", "e"},  {"É", "e"},  {"á", "a"},  {"í", "i"},  {"ó", "o"},  {"ú", "u"},
               {"ç", "c"},  {"ş", "s"},  {"Ş", "s"},  {"ğ", "g"},  {"ı", "i"},  {"İ", "i"},
               {"ł", "l"},  {"Ł", "l"},  {"ś", "s"},  {"ń", "n"},  {"ż", "z"},  {"ź", "z"},  {"ą", "a"},
               {"ę", "e"},  {"ć", "c"},  {"č", "c"},  {"Č", "c"},  {"š", "s"},  {"ž", "z"},  {"đ", "d"},
               {"ê", "e"},  {"ô", "o"},  {"â", "a"},  {"î", "i"},  {"ë", "e"},  {"ï", "i"},  {"ã", "a"},
               {"õ", "o"}};
    size_t n = 0;
    while (*s && n + 3 < size) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x80) {
            if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))
                out[n++] = (char)ch;
            else if (ch >= 'A' && ch <= 'Z')
                out[n++] = (char)(ch - 'A' + 'a');
            s++;
            continue;
        }
        size_t len = (ch & 0xe0) == 0xc0 ? 2 : (ch & 0xf0) == 0xe0 ? 3 : 4;
        for (size_t m = 0; m < sizeof map / sizeof map[0]; m++) {
            if (strncmp(s, map[m].from, len) == 0 && strlen(map[m].from) == len) {
                for (const char *t = map[m].to; *t && n + 1 < size; t++)
                    out[n++] = *t;
                break;
            }
        }
        for (size_t k = 0; k < len && *s; k++)
            s++;
    }
    out[n] = 0;
    return n;
}

struct email_set {
    uint64_t *slots;
    size_t mask;
};

static uint64_t hash_str(const char *s)
{
    return tl__hash_bytes(s, strlen(s)) | 1; /* 0 marks an empty slot */
}

/* Inserts the email's hash; false when it was there already. */
static bool email_claim(struct email_set *set, const char *email)
{
    uint64_t h = hash_str(email);
    for (size_t i = h & set->mask;; i = (i + 1) & set->mask) {
        if (set->slots[i] == h)
            return false;
        if (!set->slots[i]) {
            set->slots[i] = h;
            return true;
        }
    }
}

static const char *pick_s(struct gen_rng *r, const char *const *list)
{
    return list[gen_below(r, (uint32_t)tl__gen_count(list))];
}

static void make_email(struct gen_rng *r, const char *first, const char *last, int birth_year,
                       struct email_set *set, char *out, size_t size)
{
    char f[64], l[64];
    ascii_fold(first, f, sizeof f);
    ascii_fold(last, l, sizeof l);
    const char *domain = pick_s(r, tl__gen_email_domains);
    for (int attempt = 0;; attempt++) {
        int style = attempt ? 5 + attempt % 3 : (int)gen_below(r, 8);
        switch (style) {
        case 0: snprintf(out, size, "%s.%s@%s", f, l, domain); break;
        case 1: snprintf(out, size, "%s%s@%s", f, l, domain); break;
        case 2: snprintf(out, size, "%c.%s@%s", f[0], l, domain); break;
        case 3: snprintf(out, size, "%s_%s@%s", f, l, domain); break;
        case 4: snprintf(out, size, "%s.%s%02d@%s", f, l, birth_year % 100, domain); break;
        case 5: snprintf(out, size, "%s%s%d@%s", f, l, 1 + gen_range(r, 1, 99), domain); break;
        case 6: snprintf(out, size, "%s.%s%d@%s", l, f, gen_range(r, 1, 999), domain); break;
        default: snprintf(out, size, "%s%c%d@%s", f, l[0], gen_range(r, 100, 99999), domain); break;
        }
        if (email_claim(set, out))
            return;
    }
}

static void make_phone(struct gen_rng *r, const struct gen_city *city, char *out, size_t size)
{
    const char *cc = tl__gen_countries[tl__gen_country_index(city->country)].phone;
    if (strcmp(city->country, "DE") == 0 && gen_chance(r, 0.78)) {
        static const int mobile[] = {151, 152, 155, 157, 159, 160, 162, 163, 170,
                                     171, 172, 173, 174, 175, 176, 177, 178, 179};
        int pre = mobile[gen_below(r, sizeof mobile / sizeof mobile[0])];
        snprintf(out, size, "%s %d %07u%s", cc, pre, gen_below(r, 10000000), gen_chance(r, 0.5) ? "" : "0");
    } else if (strcmp(city->country, "DE") == 0) {
        int digits = strlen(city->area_code) <= 2 ? 8 : 7;
        unsigned lo = digits == 8 ? 20000000u : 2000000u;
        snprintf(out, size, "%s %s %u", cc, city->area_code, lo + gen_below(r, lo * 4));
    } else {
        snprintf(out, size, "%s %s %u", cc, city->area_code, 2000000u + gen_below(r, 7000000));
    }
}

static void make_address(struct gen_rng *r, const struct gen_city *city, char *out, size_t size)
{
    const char *street = pick_s(r, city->streets);
    int no = 1 + (int)(tl__gen_lognormal(r, 14, 0.9));
    if (no > 240)
        no = 1 + no % 240;
    char num[16];
    if (gen_chance(r, 0.07))
        snprintf(num, sizeof num, "%d%c", no, 'a' + (int)gen_below(r, 3));
    else
        snprintf(num, sizeof num, "%d", no);
    int plz = gen_range(r, city->plz_lo, city->plz_hi);
    const char *c = city->country;
    if (strcmp(c, "FR") == 0)
        snprintf(out, size, "%s %s, %05d %s", num, street, plz, city->name);
    else if (strcmp(c, "NL") == 0)
        snprintf(out, size, "%s %s, %04d %c%c %s", street, num, plz, 'A' + gen_below(r, 26),
                 'A' + gen_below(r, 26), city->name);
    else if (strcmp(c, "PL") == 0)
        snprintf(out, size, "%s %s, %02d-%03d %s", street, num, plz / 1000, plz % 1000, city->name);
    else if (strcmp(c, "AT") == 0)
        snprintf(out, size, "%s %s, %04d %s", street, num, plz, city->name);
    else
        snprintf(out, size, "%s %s, %05d %s", street, num, plz, city->name);
}

/* 11 digits: a bijection of the customer index (so ids never collide),
 * keyed by the seed, and an ISO 7064 MOD 11,10 check digit as on the
 * German tax id. */
static void make_national_id(uint64_t seed, uint64_t index, char *out, size_t size)
{
    const uint64_t span = 9000000000ULL; /* 2^9 3^2 5^9: the multiplier avoids 2, 3 and 5 */
    uint64_t key = (seed * 0x9e3779b97f4a7c15ULL >> 20) % span;
    uint64_t body = 1000000000ULL + (index % span * 2654435761ULL + key) % span;
    char d[11];
    snprintf(d, sizeof d, "%010llu", (unsigned long long)body);
    int p = 10;
    for (int i = 0; i < 10; i++) {
        int s = (d[i] - '0' + p) % 10;
        if (s == 0)
            s = 10;
        p = (2 * s) % 11;
    }
    int check = (11 - p) % 10;
    snprintf(out, size, "%s%d", d, check);
}

static void write_customer(struct gen_world *w, struct gen_out *o, uint64_t i, const struct gen_cust *c,
                           struct email_set *set)
{
    struct gen_rng r;
    tl__gen_rng_seed(&r, w->seed, GEN_S_PII, i);
    const struct gen_city *city = &tl__gen_cities[c->city];

    /* the origin of a name: most residents abroad are locals */
    double gw[32];
    size_t ng = tl__gen_n_name_groups;
    int local = -1;
    for (size_t g = 0; g < ng; g++) {
        gw[g] = tl__gen_name_groups[g].weight;
        if (tl__gen_name_groups[g].home && strcmp(tl__gen_name_groups[g].home, city->country) == 0)
            local = (int)g;
    }
    size_t g = local >= 0 && gen_chance(&r, 0.8) ? (size_t)local : tl__gen_pick(&r, gw, ng);
    const struct gen_name_group *grp = &tl__gen_name_groups[g];
    bool female = gen_chance(&r, 0.5);
    const char *first = pick_s(&r, female ? grp->female : grp->male);
    const char *last = pick_s(&r, grp->last);

    int by;
    unsigned bm, bd;
    tl_civil_from_days(c->birth_day, &by, &bm, &bd);
    char name[160], email[200], phone[48], addr[256], nid[16];
    snprintf(name, sizeof name, "%s %s", first, last);
    make_email(&r, first, last, by, set, email, sizeof email);
    make_phone(&r, city, phone, sizeof phone);
    make_address(&r, city, addr, sizeof addr);
    make_national_id(w->seed, i, nid, sizeof nid);

    gen_need(o, GEN_ROW_MAX);
    gen_put_id(o, "C", i + 1, 6);
    gen_sep(o);
    tl__gen_put_text(o, name);
    gen_sep(o);
    tl__gen_put_text(o, email);
    gen_sep(o);
    tl__gen_put_text(o, phone);
    gen_sep(o);
    tl__gen_put_text(o, addr);
    gen_sep(o);
    gen_puts(o, nid);
    gen_sep(o);
    tl__gen_put_date(o, c->birth_day);
    gen_sep(o);
    gen_puts(o, city->country);
    gen_sep(o);
    tl__gen_put_text(o, city->region);
    gen_sep(o);
    gen_puts(o, tl__gen_occupations[c->occupation].name);
    gen_sep(o);
    gen_put_money(o, c->income_minor);
    gen_puts(o, ",EUR,");
    gen_put_u64(o, c->household);
    gen_sep(o);
    gen_puts(o, SEGMENT_NAMES[c->segment]);
    gen_sep(o);
    tl__gen_put_date(o, c->since_day);
    gen_eol(o);
}

int tl__gen_customers(struct gen_world *w, tl_err *err)
{
    size_t n = (size_t)w->n_customers;
    w->cust = calloc(n, sizeof *w->cust);
    struct email_set set = {0};
    size_t slots = 1024;
    while (slots < 2 * n)
        slots *= 2;
    set.slots = calloc(slots, sizeof *set.slots);
    set.mask = slots - 1;
    if (!w->cust || !set.slots) {
        free(set.slots);
        return tl_err_set(err, TL_ENOMEM, "out of memory for %zu customers", n);
    }
    struct gen_out o;
    int rc = tl__gen_out_open(&o, w->out_dir, "customers", err);
    if (rc < 0) {
        free(set.slots);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        struct gen_cust *c = &w->cust[i];
        struct gen_rng r;
        tl__gen_rng_seed(&r, w->seed, GEN_S_PROFILE, i);
        double wealth;
        draw_profile(w, c, &r, &wealth);
        if (tl__gen_portfolio(w, (uint32_t)i, c, &r, wealth) < 0) {
            rc = tl_err_set(err, TL_ENOMEM, "out of memory drawing the products of customer %zu", i + 1);
            break;
        }
        write_customer(w, &o, i, c, &set);
        if ((i & 1023) == 1023)
            tl__gen_progress(w, 1024);
    }
    tl__gen_progress(w, n & 1023);
    free(set.slots);
    w->rows[GEN_TB_CUSTOMERS] = o.rows;
    int crc = tl__gen_out_close(&o, err);
    return rc < 0 ? rc : crc;
}
