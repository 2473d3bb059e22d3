/*
 * profile_mcc.c - merchant category codes (ISO 18245) to the profile's
 * readable spending categories, and the channel names.
 *
 * Ranges are listed from the most specific to the most general where they
 * overlap; the first match wins. Codes outside every range count as
 * "other". Airline (3000-3350), car rental (3351-3500) and hotel
 * (3501-3999) brand codes are travel, like their generic codes.
 */
#include <teller/profile.h>

struct cat_info {
    const char *name, *label;
};

static const struct cat_info CATS[TL_CAT_COUNT] = {
    [TL_CAT_GROCERIES] = {"groceries", "groceries"},
    [TL_CAT_RESTAURANTS] = {"restaurants", "eating out"},
    [TL_CAT_FUEL] = {"fuel", "fuel"},
    [TL_CAT_TRANSPORT] = {"transport", "transport and taxis"},
    [TL_CAT_TRAVEL] = {"travel", "travel"},
    [TL_CAT_SHOPPING] = {"shopping", "general shopping"},
    [TL_CAT_CLOTHING] = {"clothing", "clothing"},
    [TL_CAT_ELECTRONICS] = {"electronics", "electronics"},
    [TL_CAT_HOME] = {"home", "home and garden"},
    [TL_CAT_HEALTH] = {"health", "health and pharmacy"},
    [TL_CAT_ENTERTAINMENT] = {"entertainment", "entertainment and digital"},
    [TL_CAT_UTILITIES] = {"utilities", "utilities and telecom"},
    [TL_CAT_INSURANCE] = {"insurance", "insurance"},
    [TL_CAT_HOUSING] = {"housing", "rent and housing"},
    [TL_CAT_DEBT] = {"debt", "loan repayments"},
    [TL_CAT_CASH] = {"cash", "cash withdrawals"},
    [TL_CAT_CHILDREN] = {"children", "children and education"},
    [TL_CAT_PERSONAL] = {"personal", "personal care and fitness"},
    [TL_CAT_FEES] = {"fees", "bank fees"},
    [TL_CAT_OTHER] = {"other", "other spending"},
};

struct mcc_range {
    int lo, hi;
    int cat;
};

/* clang-format off */
static const struct mcc_range RANGES[] = {
    /* children and education first: they sit inside retail and services ranges */
    {5641, 5641, TL_CAT_CHILDREN},   /* children's and infants' wear */
    {5945, 5945, TL_CAT_CHILDREN},   /* hobby, toy and game shops */
    {8211, 8211, TL_CAT_CHILDREN},   /* elementary and secondary schools */
    {8220, 8220, TL_CAT_CHILDREN},   /* colleges, universities */
    {8241, 8299, TL_CAT_CHILDREN},   /* correspondence, trade and other schools */
    {8351, 8351, TL_CAT_CHILDREN},   /* child care services */

    {3000, 3350, TL_CAT_TRAVEL},     /* airlines by brand */
    {3351, 3500, TL_CAT_TRAVEL},     /* car rental by brand */
    {3501, 3999, TL_CAT_TRAVEL},     /* hotels by brand */
    {4411, 4411, TL_CAT_TRAVEL},     /* cruise lines */
    {4511, 4511, TL_CAT_TRAVEL},     /* airlines */
    {4582, 4582, TL_CAT_TRAVEL},     /* airports */
    {4722, 4723, TL_CAT_TRAVEL},     /* travel agencies, tour operators */
    {7011, 7011, TL_CAT_TRAVEL},     /* hotels, motels */
    {7012, 7012, TL_CAT_TRAVEL},     /* timeshares */
    {7033, 7033, TL_CAT_TRAVEL},     /* campgrounds */
    {7512, 7512, TL_CAT_TRAVEL},     /* car rental */
    {7519, 7519, TL_CAT_TRAVEL},     /* motor home rental */

    {4011, 4131, TL_CAT_TRANSPORT},  /* railways, commuter transport, taxis, buses */
    {4457, 4468, TL_CAT_TRANSPORT},  /* boat rentals, marinas */
    {4784, 4784, TL_CAT_TRANSPORT},  /* tolls */
    {4789, 4789, TL_CAT_TRANSPORT},  /* transportation services */
    {7523, 7523, TL_CAT_TRANSPORT},  /* parking */
    {7531, 7549, TL_CAT_TRANSPORT},  /* car repair and services */
    {5511, 5599, TL_CAT_TRANSPORT},  /* car and motorcycle dealers, parts */

    {5172, 5172, TL_CAT_FUEL},       /* petroleum products */
    {5541, 5542, TL_CAT_FUEL},       /* service stations, fuel dispensers */
    {5552, 5552, TL_CAT_FUEL},       /* electric vehicle charging */
    {5983, 5983, TL_CAT_FUEL},       /* fuel dealers */

    {4812, 4816, TL_CAT_UTILITIES},  /* telecom equipment, services, networks */
    {4821, 4821, TL_CAT_UTILITIES},  /* telegraph */
    {4899, 4899, TL_CAT_UTILITIES},  /* cable, satellite, pay TV */
    {4900, 4900, TL_CAT_UTILITIES},  /* electricity, gas, water */

    {5300, 5300, TL_CAT_GROCERIES},  /* wholesale clubs */
    {5411, 5411, TL_CAT_GROCERIES},  /* supermarkets */
    {5422, 5422, TL_CAT_GROCERIES},  /* meat */
    {5441, 5441, TL_CAT_GROCERIES},  /* sweets */
    {5451, 5451, TL_CAT_GROCERIES},  /* dairy */
    {5462, 5462, TL_CAT_GROCERIES},  /* bakeries */
    {5499, 5499, TL_CAT_GROCERIES},  /* convenience, specialty food */
    {5921, 5921, TL_CAT_GROCERIES},  /* beer, wine, liquor */

    {5811, 5814, TL_CAT_RESTAURANTS},/* caterers, restaurants, bars, fast food */

    {5611, 5699, TL_CAT_CLOTHING},   /* apparel and shoes */
    {5931, 5931, TL_CAT_CLOTHING},   /* second hand */
    {5944, 5944, TL_CAT_CLOTHING},   /* jewellery, watches */
    {5948, 5948, TL_CAT_CLOTHING},   /* leather goods, luggage */

    {5044, 5045, TL_CAT_ELECTRONICS},/* office machines, computers */
    {5722, 5722, TL_CAT_ELECTRONICS},/* household appliances */
    {5731, 5734, TL_CAT_ELECTRONICS},/* electronics, computer software */
    {5946, 5946, TL_CAT_ELECTRONICS},/* cameras */

    {5200, 5271, TL_CAT_HOME},       /* home improvement, hardware, garden */
    {5712, 5719, TL_CAT_HOME},       /* furniture, home furnishings */
    {5950, 5950, TL_CAT_HOME},       /* glassware */
    {5992, 5992, TL_CAT_HOME},       /* florists */
    {1520, 1799, TL_CAT_HOME},       /* contractors */
    {6513, 6513, TL_CAT_HOUSING},    /* real estate agents, rentals */

    {5047, 5047, TL_CAT_HEALTH},     /* medical supplies */
    {5122, 5122, TL_CAT_HEALTH},     /* drugs */
    {5912, 5912, TL_CAT_HEALTH},     /* pharmacies */
    {5975, 5976, TL_CAT_HEALTH},     /* hearing aids, orthopaedic goods */
    {8011, 8099, TL_CAT_HEALTH},     /* doctors, dentists, hospitals, opticians */

    {5735, 5735, TL_CAT_ENTERTAINMENT},/* music */
    {5815, 5818, TL_CAT_ENTERTAINMENT},/* digital goods, games, streaming */
    {5942, 5942, TL_CAT_ENTERTAINMENT},/* books */
    {5994, 5994, TL_CAT_ENTERTAINMENT},/* news */
    {7832, 7841, TL_CAT_ENTERTAINMENT},/* cinemas, video */
    {7911, 7996, TL_CAT_ENTERTAINMENT},/* dance, theatre, sports, amusement */
    {7998, 7999, TL_CAT_ENTERTAINMENT},/* aquariums, recreation */
    {7800, 7802, TL_CAT_ENTERTAINMENT},/* lotteries, betting */
    {7995, 7995, TL_CAT_ENTERTAINMENT},/* gambling */

    {7230, 7230, TL_CAT_PERSONAL},   /* hair and beauty */
    {7297, 7298, TL_CAT_PERSONAL},   /* massage, spas */
    {7997, 7997, TL_CAT_PERSONAL},   /* gyms, clubs */
    {5977, 5977, TL_CAT_PERSONAL},   /* cosmetics */

    {5960, 5960, TL_CAT_INSURANCE},  /* direct marketing insurance */
    {6300, 6399, TL_CAT_INSURANCE},  /* insurance */

    {6010, 6011, TL_CAT_CASH},       /* cash: branch and ATM */
    {6012, 6012, TL_CAT_FEES},       /* financial institutions */

    {5309, 5399, TL_CAT_SHOPPING},   /* duty free, discount and department stores */
    {5940, 5999, TL_CAT_SHOPPING},   /* misc retail: sports, gifts, catalogue, ... */
    {5961, 5969, TL_CAT_SHOPPING},   /* mail order, direct selling */
};
/* clang-format on */

const char *tl_profile_category_name(int cat)
{
    return cat >= 0 && cat < TL_CAT_COUNT ? CATS[cat].name : NULL;
}

const char *tl_profile_category_label(int cat)
{
    return cat >= 0 && cat < TL_CAT_COUNT ? CATS[cat].label : NULL;
}

int tl_profile_category_of_mcc(int mcc)
{
    for (size_t i = 0; i < sizeof RANGES / sizeof RANGES[0]; i++)
        if (mcc >= RANGES[i].lo && mcc <= RANGES[i].hi)
            return RANGES[i].cat;
    return -1;
}

static const char *const CHANNELS[TL_CH_COUNT] = {"pos", "online", "atm", "branch", "mobile", "batch"};

const char *tl_profile_channel_name(int ch)
{
    return ch >= 0 && ch < TL_CH_COUNT ? CHANNELS[ch] : NULL;
}
