/*
 * generate_products.c - the product catalogue, products.csv, and how much a
 * customer would want each product (eligibility and affinity), which the
 * holdings and the interactions both follow.
 */
#include "generate_internal.h"

#define EUR(x) ((int64_t)((x)*100))
#define NB GEN_NONE_BP

/* name, category, asset, risk, rate, fee, min/max age, min income, return, volatility, NAV */
/* clang-format off */
const struct gen_product tl__gen_products[GEN_P_COUNT] = {
    [GEN_P_CUR_BASIC] = {"Current Account Basic", GEN_C_CURRENT, GEN_A_NONE, 1, 0, EUR(58.80), 18, 0, 0, NB, NB, 0},
    [GEN_P_CUR_PLUS] = {"Current Account Plus", GEN_C_CURRENT, GEN_A_NONE, 1, 0, EUR(118.80), 18, 0, EUR(40000), NB, NB, 0},
    [GEN_P_CUR_YOUTH] = {"Youth Current Account", GEN_C_CURRENT, GEN_A_NONE, 1, 0, 0, 18, 27, 0, NB, NB, 0},
    [GEN_P_SAV_FLEX] = {"Flexible Savings Account", GEN_C_SAVINGS, GEN_A_NONE, 1, 150, 0, 18, 0, 0, NB, NB, 0},
    [GEN_P_SAV_BONUS] = {"Bonus Savings Account", GEN_C_SAVINGS, GEN_A_NONE, 1, 225, 0, 18, 0, EUR(25000), NB, NB, 0},
    [GEN_P_TD_12] = {"Term Deposit 12 Months", GEN_C_TERM_DEPOSIT, GEN_A_NONE, 1, 270, 0, 18, 0, 0, NB, NB, 0},
    [GEN_P_TD_36] = {"Term Deposit 36 Months", GEN_C_TERM_DEPOSIT, GEN_A_NONE, 1, 300, 0, 18, 0, 0, NB, NB, 0},
    [GEN_P_CC_CLASSIC] = {"Classic Credit Card", GEN_C_CREDIT_CARD, GEN_A_NONE, 2, 1590, EUR(29), 18, 0, EUR(15000), NB, NB, 0},
    [GEN_P_CC_GOLD] = {"Gold Credit Card", GEN_C_CREDIT_CARD, GEN_A_NONE, 2, 1490, EUR(89), 18, 0, EUR(40000), NB, NB, 0},
    [GEN_P_CC_PLATINUM] = {"Platinum Credit Card", GEN_C_CREDIT_CARD, GEN_A_NONE, 2, 1390, EUR(249), 21, 0, EUR(90000), NB, NB, 0},
    [GEN_P_LOAN_PERSONAL] = {"Personal Loan", GEN_C_PERSONAL_LOAN, GEN_A_NONE, 3, 690, 0, 18, 75, EUR(15000), NB, NB, 0},
    [GEN_P_LOAN_AUTO] = {"Auto Loan", GEN_C_AUTO_LOAN, GEN_A_NONE, 2, 490, 0, 18, 75, EUR(18000), NB, NB, 0},
    [GEN_P_MORTGAGE_10] = {"Mortgage 10-Year Fixed", GEN_C_MORTGAGE, GEN_A_NONE, 2, 360, 0, 21, 65, EUR(35000), NB, NB, 0},
    [GEN_P_MORTGAGE_20] = {"Mortgage 20-Year Fixed", GEN_C_MORTGAGE, GEN_A_NONE, 2, 395, 0, 21, 60, EUR(35000), NB, NB, 0},
    [GEN_P_INS_LIFE] = {"Term Life Insurance", GEN_C_INSURANCE, GEN_A_NONE, 1, NB, EUR(348), 18, 65, 0, NB, NB, 0},
    [GEN_P_INS_HOME] = {"Home Contents Insurance", GEN_C_INSURANCE, GEN_A_NONE, 1, NB, EUR(96), 18, 0, 0, NB, NB, 0},
    [GEN_P_INS_TRAVEL] = {"Annual Travel Insurance", GEN_C_INSURANCE, GEN_A_NONE, 1, NB, EUR(69), 18, 80, 0, NB, NB, 0},
    [GEN_P_FUND_MONEY] = {"Euro Money Market Fund", GEN_C_FUND, GEN_A_CASH, 1, NB, 0, 18, 0, 0, 250, 40, 105.20},
    [GEN_P_FUND_GOVBOND] = {"Euro Government Bond Fund", GEN_C_FUND, GEN_A_BOND, 2, NB, 0, 18, 0, 0, 280, 500, 48.75},
    [GEN_P_ETF_CORPBOND] = {"Global Corporate Bond ETF", GEN_C_ETF, GEN_A_BOND, 2, NB, 0, 18, 0, 0, 370, 650, 5.42},
    [GEN_P_FUND_HIGHYIELD] = {"Global High Yield Bond Fund", GEN_C_FUND, GEN_A_BOND, 3, NB, 0, 18, 0, 0, 550, 950, 92.10},
    [GEN_P_FUND_BALANCED] = {"Balanced Fund 40/60", GEN_C_FUND, GEN_A_MIXED, 3, NB, 0, 18, 0, 0, 450, 800, 61.30},
    [GEN_P_FUND_GROWTH] = {"Growth Fund 70/30", GEN_C_FUND, GEN_A_MIXED, 4, NB, 0, 18, 0, 0, 580, 1150, 134.80},
    [GEN_P_ETF_WORLD] = {"MSCI World ETF", GEN_C_ETF, GEN_A_EQUITY, 4, NB, 0, 18, 0, 0, 700, 1550, 98.60},
    [GEN_P_FUND_EUROPE] = {"European Equity Fund", GEN_C_FUND, GEN_A_EQUITY, 4, NB, 0, 18, 0, 0, 640, 1700, 212.40},
    [GEN_P_ETF_DAX] = {"DAX ETF", GEN_C_ETF, GEN_A_EQUITY, 4, NB, 0, 18, 0, 0, 620, 1850, 176.30},
    [GEN_P_ETF_EMERGING] = {"Emerging Markets ETF", GEN_C_ETF, GEN_A_EQUITY, 5, NB, 0, 18, 0, 0, 800, 2200, 41.20},
    [GEN_P_FUND_TECH] = {"Global Technology Fund", GEN_C_FUND, GEN_A_EQUITY, 5, NB, 0, 18, 0, 0, 950, 2600, 318.90},
    [GEN_P_ETF_ESG] = {"Sustainable World ETF", GEN_C_ETF, GEN_A_EQUITY, 4, NB, 0, 18, 0, 0, 680, 1600, 8.75},
    [GEN_P_FUND_REALESTATE] = {"Global Real Estate Fund", GEN_C_FUND, GEN_A_REAL_ESTATE, 3, NB, 0, 18, 0, 0, 480, 1400, 52.60},
    [GEN_P_ETF_GOLD] = {"Physical Gold ETC", GEN_C_ETF, GEN_A_COMMODITY, 4, NB, 0, 18, 0, 0, 400, 1600, 72.15},
};
/* clang-format on */

static const char *const CATEGORY_NAMES[] = {[GEN_C_CURRENT] = "current_account",
                                             [GEN_C_SAVINGS] = "savings_account",
                                             [GEN_C_TERM_DEPOSIT] = "term_deposit",
                                             [GEN_C_CREDIT_CARD] = "credit_card",
                                             [GEN_C_PERSONAL_LOAN] = "personal_loan",
                                             [GEN_C_AUTO_LOAN] = "auto_loan",
                                             [GEN_C_MORTGAGE] = "mortgage",
                                             [GEN_C_INSURANCE] = "insurance",
                                             [GEN_C_FUND] = "fund",
                                             [GEN_C_ETF] = "etf"};
static const char *const ASSET_NAMES[] = {"none",  "cash",        "bond",     "equity",
                                          "mixed", "real_estate", "commodity"};

int tl__gen_write_products(struct gen_world *w, tl_err *err)
{
    struct gen_out o;
    int rc = tl__gen_out_open(&o, w->out_dir, "products", err);
    if (rc < 0)
        return rc;
    for (int p = 0; p < GEN_P_COUNT; p++) {
        const struct gen_product *pr = &tl__gen_products[p];
        gen_need(&o, GEN_ROW_MAX);
        gen_put_id(&o, "P", (uint64_t)p + 1, 3);
        gen_sep(&o);
        tl__gen_put_text(&o, pr->name);
        gen_sep(&o);
        gen_puts(&o, CATEGORY_NAMES[pr->category]);
        gen_sep(&o);
        gen_puts(&o, ASSET_NAMES[pr->asset]);
        gen_sep(&o);
        gen_put_u64(&o, (uint64_t)pr->risk);
        gen_puts(&o, ",EUR,");
        if (pr->rate_bp != NB)
            gen_put_i64(&o, pr->rate_bp);
        gen_sep(&o);
        gen_put_money(&o, pr->fee_minor);
        gen_sep(&o);
        gen_put_u64(&o, (uint64_t)pr->min_age);
        gen_sep(&o);
        if (pr->max_age)
            gen_put_u64(&o, (uint64_t)pr->max_age);
        gen_sep(&o);
        if (pr->min_income_minor)
            gen_put_money(&o, pr->min_income_minor);
        gen_sep(&o);
        if (pr->return_bp != NB)
            gen_put_i64(&o, pr->return_bp);
        gen_sep(&o);
        if (pr->vol_bp != NB)
            gen_put_i64(&o, pr->vol_bp);
        gen_eol(&o);
    }
    w->rows[GEN_TB_PRODUCTS] = o.rows;
    return tl__gen_out_close(&o, err);
}

bool tl__gen_eligible(const struct gen_cust *c, int product, int age)
{
    const struct gen_product *p = &tl__gen_products[product];
    if (age < p->min_age || (p->max_age && age > p->max_age))
        return false;
    return c->income_minor >= p->min_income_minor;
}

/*
 * How much a customer wants a product, on a logit scale (0 is indifferent).
 * Life stage, income and the latent risk appetite decide; the same score
 * drives which funds people hold and which products they browse, so a
 * recommender trained on interactions can find the holdings again.
 */
double tl__gen_product_affinity(const struct gen_world *w, const struct gen_cust *c, int product)
{
    const struct gen_product *p = &tl__gen_products[product];
    int age = tl__gen_age_at(c->birth_day, w->end_day);
    if (!tl__gen_eligible(c, product, age))
        return -4.0;
    double inc = log((double)c->income_minor / 100.0 / 40000.0);
    double u = -1.0;
    switch (p->category) {
    case GEN_C_CURRENT:
        u = product == GEN_P_CUR_PLUS ? -0.5 + 0.8 * inc : product == GEN_P_CUR_YOUTH ? 0.5 : -0.5;
        break;
    case GEN_C_SAVINGS:
        u = 0.2 + 0.5 * inc + (age > 55 ? 0.4 : 0) - 0.3 * c->appetite;
        if (product == GEN_P_SAV_BONUS)
            u -= 0.3;
        break;
    case GEN_C_TERM_DEPOSIT: u = -0.6 + 0.4 * inc + 0.025 * (age - 45) - 0.5 * c->appetite; break;
    case GEN_C_CREDIT_CARD: {
        double tier = product == GEN_P_CC_CLASSIC ? 0 : product == GEN_P_CC_GOLD ? 1 : 2;
        u = 0.3 + 0.3 * c->fragility - 0.6 * fabs(inc - (tier - 0.3)) + (age < 35 ? 0.3 : 0);
        break;
    }
    case GEN_C_PERSONAL_LOAN:
        u = -0.9 + 0.6 * c->fragility + (age >= 25 && age <= 50 ? 0.4 : -0.3) - 0.3 * inc;
        break;
    case GEN_C_AUTO_LOAN: u = -0.9 + (c->has_car ? 0.9 : -0.4) + (c->household >= 3 ? 0.3 : 0); break;
    case GEN_C_MORTGAGE:
        u = -1.2 + (age >= 28 && age <= 48 ? 1.0 : -0.8) + (c->household >= 3 ? 0.6 : 0) + 0.6 * inc;
        if (product == GEN_P_MORTGAGE_20)
            u += age < 40 ? 0.3 : -0.3;
        break;
    case GEN_C_INSURANCE:
        if (product == GEN_P_INS_LIFE)
            u = -0.8 + (c->household >= 3 ? 1.0 : 0) + (age >= 28 && age <= 55 ? 0.4 : -0.4);
        else if (product == GEN_P_INS_HOME)
            u = -0.4 + (c->household >= 2 ? 0.4 : 0) + (c->pays_rent ? 0 : 0.5);
        else
            u = -1.0 + 0.7 * c->n_trips;
        break;
    case GEN_C_FUND:
    case GEN_C_ETF: {
        /* the distance between the product's risk and what the customer
         * would choose, and investing at all grows with income */
        double d = fabs((double)p->risk - (double)c->risk_pref);
        u = -0.2 + 0.7 * inc - 0.9 * d + (c->investor ? 0.8 : -0.6);
        if (p->category == GEN_C_ETF)
            u += age < 40 ? 0.4 : -0.3; /* younger investors favour ETFs */
        if (product == GEN_P_ETF_ESG)
            u += age < 35 ? 0.3 : 0;
        break;
    }
    }
    return u;
}
