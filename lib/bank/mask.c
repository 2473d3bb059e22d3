/*
 * mask.c - PII detection and masking (see mask.h and docs/privacy-masking.md).
 *
 * One left-to-right pass, no regular expressions and no allocation: at each
 * word boundary the detectors that can start with that character are tried
 * (digits: cards, ids, phones, house numbers; letters: IBANs, ids, names,
 * streets; '+' and '(': phones; the local part of the next '@': emails).
 * The longest candidate wins and the scan resumes after it, so spans never
 * overlap and the cost is linear: every detector looks at a bounded window.
 *
 * Validity checks (Luhn, mod 97, ISO 7064, mod 23, the codice fiscale odd/
 * even table) carry the precision of the structured kinds; phones and the
 * 11-digit tax id have weak checks, so they also look at the words before
 * them ("Order", "Konto" ... veto; "Tel", "Steuer-ID" ... confirm) and after
 * them ("EUR", "%").
 */
#include <teller/keyring.h>
#include <teller/mask.h>
#include <teller/store.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

/* ------------------------------------------------------------ kinds --- */

static const char *const PLACEHOLDERS[TL_MASK_KIND_COUNT] = {
    [TL_MASK_CARD] = "[CARD]",   [TL_MASK_IBAN] = "[IBAN]",
    [TL_MASK_EMAIL] = "[EMAIL]", [TL_MASK_PHONE] = "[PHONE]",
    [TL_MASK_NATIONAL_ID] = "[NATIONAL_ID]", [TL_MASK_NAME] = "[NAME]",
    [TL_MASK_ADDRESS] = "[ADDRESS]",
};
static const char *const KIND_NAMES[TL_MASK_KIND_COUNT] = {
    [TL_MASK_CARD] = "card",   [TL_MASK_IBAN] = "iban",
    [TL_MASK_EMAIL] = "email", [TL_MASK_PHONE] = "phone",
    [TL_MASK_NATIONAL_ID] = "national_id", [TL_MASK_NAME] = "name",
    [TL_MASK_ADDRESS] = "address",
};

const char *tl_mask_placeholder(enum tl_mask_kind kind)
{
    if ((int)kind < 0 || kind >= TL_MASK_KIND_COUNT)
        return "[PII]";
    return PLACEHOLDERS[kind];
}

const char *tl_mask_kind_name(enum tl_mask_kind kind)
{
    if ((int)kind < 0 || kind >= TL_MASK_KIND_COUNT)
        return "unknown";
    return KIND_NAMES[kind];
}

/* ------------------------------------------------ characters, UTF-8 --- */

static inline bool is_digit(unsigned c)
{
    return c - '0' < 10u;
}

static inline bool is_upper(unsigned c)
{
    return c - 'A' < 26u;
}

static inline bool is_lower(unsigned c)
{
    return c - 'a' < 26u;
}

static inline bool is_alpha(unsigned c)
{
    return is_upper(c) || is_lower(c);
}

static inline bool is_alnum(unsigned c)
{
    return is_alpha(c) || is_digit(c);
}

static inline unsigned to_upper(unsigned c)
{
    return is_lower(c) ? c - 32 : c;
}

/* The code point at s[i], its byte length in *n (>= 1). Invalid UTF-8 gives
 * U+FFFD over one byte, which is neither a letter nor a separator. */
static uint32_t decode(const unsigned char *s, size_t len, size_t i, size_t *n)
{
    unsigned char c = s[i];
    if (c < 0x80) {
        *n = 1;
        return c;
    }
    size_t k = tl__utf8_seq_len(s + i, len - i);
    if (k == 0) {
        *n = 1;
        return 0xfffd;
    }
    *n = k;
    if (k == 2)
        return (uint32_t)(c & 0x1f) << 6 | (s[i + 1] & 0x3f);
    if (k == 3)
        return (uint32_t)(c & 0x0f) << 12 | (uint32_t)(s[i + 1] & 0x3f) << 6 | (s[i + 2] & 0x3f);
    return (uint32_t)(c & 0x07) << 18 | (uint32_t)(s[i + 1] & 0x3f) << 12 |
           (uint32_t)(s[i + 2] & 0x3f) << 6 | (s[i + 3] & 0x3f);
}

/* Start of the code point that ends at i (i > lo); a stray continuation
 * byte stands alone. */
static size_t prev_start(const unsigned char *s, size_t len, size_t i, size_t lo)
{
    size_t j = i - 1;
    size_t back = 0;
    while (j > lo && back < 3 && (s[j] & 0xc0) == 0x80) {
        j--;
        back++;
    }
    if (j < i - 1 && tl__utf8_seq_len(s + j, len - j) == i - j)
        return j;
    return i - 1;
}

/* Letters, digits, '_' and combining marks: what words are made of. Most
 * of U+0080..U+00BF and the punctuation, symbol and space blocks are not. */
static bool cp_is_word(uint32_t cp)
{
    if (cp < 0x80)
        return is_alnum(cp) || cp == '_';
    if (cp < 0xc0)
        return cp == 0xaa || cp == 0xb5 || cp == 0xba;
    if (cp == 0xd7 || cp == 0xf7 || cp == 0xfffd)
        return false;
    if (cp >= 0x2000 && cp <= 0x2bff) /* punctuation, currency, arrows, ... */
        return false;
    if (cp >= 0x2e00 && cp <= 0x2e7f)
        return false;
    if (cp >= 0x3000 && cp <= 0x303f)
        return false;
    if (cp >= 0xfe00 && cp <= 0xfe6f) /* variation selectors, small forms */
        return false;
    if (cp == 0xfeff || (cp >= 0xff00 && cp <= 0xff0f))
        return false;
    return true;
}

static bool word_at(const unsigned char *s, size_t len, size_t i)
{
    if (i >= len)
        return false;
    if (s[i] < 0x80)
        return is_alnum(s[i]) || s[i] == '_';
    size_t n;
    return cp_is_word(decode(s, len, i, &n));
}

static bool word_before(const unsigned char *s, size_t len, size_t i)
{
    if (i == 0)
        return false;
    if (s[i - 1] < 0x80)
        return is_alnum(s[i - 1]) || s[i - 1] == '_';
    size_t j = prev_start(s, len, i, 0);
    size_t n;
    return cp_is_word(decode(s, len, j, &n));
}

/* Upper-case letters among ASCII, Latin-1 and Latin Extended-A. */
static bool cp_is_upper(uint32_t cp)
{
    if (cp < 0x80)
        return is_upper(cp);
    if (cp >= 0xc0 && cp <= 0xde)
        return cp != 0xd7;
    if (cp >= 0x100 && cp <= 0x137)
        return cp % 2 == 0;
    if (cp >= 0x139 && cp <= 0x148)
        return cp % 2 == 1;
    if (cp >= 0x14a && cp <= 0x177)
        return cp % 2 == 0;
    if (cp == 0x178)
        return true;
    if (cp >= 0x179 && cp <= 0x17e)
        return cp % 2 == 1;
    if (cp >= 0x391 && cp <= 0x3a9) /* Greek */
        return true;
    return cp >= 0x400 && cp <= 0x42f; /* Cyrillic */
}

/* Case and accent folding for U+00C0..U+017F: the lower-case base letters
 * (NFKD without marks), with the letters NFKD leaves alone spelled out. */
static const char *const FOLD_LATIN[192] = {
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i", /* 00C0 */
    "d", "n", "o", "o", "o", "o", "o", NULL, "o", "u", "u", "u", "u", "y", "th", "ss", /* 00D0 */
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i", /* 00E0 */
    "d", "n", "o", "o", "o", "o", "o", NULL, "o", "u", "u", "u", "u", "y", "th", "y", /* 00F0 */
    "a", "a", "a", "a", "a", "a", "c", "c", "c", "c", "c", "c", "c", "c", "d", "d", /* 0100 */
    "d", "d", "e", "e", "e", "e", "e", "e", "e", "e", "e", "e", "g", "g", "g", "g", /* 0110 */
    "g", "g", "g", "g", "h", "h", "h", "h", "i", "i", "i", "i", "i", "i", "i", "i", /* 0120 */
    "i", "i", "ij", "ij", "j", "j", "k", "k", "k", "l", "l", "l", "l", "l", "l", "l", /* 0130 */
    "l", "l", "l", "n", "n", "n", "n", "n", "n", "n", "n", "n", "o", "o", "o", "o", /* 0140 */
    "o", "o", "oe", "oe", "r", "r", "r", "r", "r", "r", "s", "s", "s", "s", "s", "s", /* 0150 */
    "s", "s", "t", "t", "t", "t", "t", "t", "u", "u", "u", "u", "u", "u", "u", "u", /* 0160 */
    "u", "u", "u", "u", "w", "w", "y", "y", "y", "z", "z", "z", "z", "z", "z", "s", /* 0170 */
};

enum fold_mode {
    FOLD_STRIP = 0,  /* ü -> u: what text is always folded with */
    FOLD_GERMAN = 1, /* ü -> ue: a second spelling of names with umlauts */
};

/* Appends the folded form of cp to out[*o..cap); false when it does not
 * fit. Combining marks (U+0300..U+036F) fold to nothing, so decomposed
 * input (NFD) matches precomposed names. */
static bool fold_cp(uint32_t cp, enum fold_mode mode, char *out, size_t *o, size_t cap)
{
    char tmp[4];
    const char *f = NULL;
    size_t n = 0;
    if (cp < 0x80) {
        tmp[0] = (char)(is_upper(cp) ? cp + 32 : cp);
        n = 1;
        f = tmp;
    } else if (cp >= 0x300 && cp <= 0x36f) {
        return true;
    } else if (mode == FOLD_GERMAN && (cp == 0xe4 || cp == 0xc4)) {
        f = "ae";
    } else if (mode == FOLD_GERMAN && (cp == 0xf6 || cp == 0xd6)) {
        f = "oe";
    } else if (mode == FOLD_GERMAN && (cp == 0xfc || cp == 0xdc)) {
        f = "ue";
    } else if (cp >= 0xc0 && cp < 0x180 && FOLD_LATIN[cp - 0xc0]) {
        f = FOLD_LATIN[cp - 0xc0];
    } else if (cp >= 0x218 && cp <= 0x21b) { /* Romanian comma below */
        f = cp < 0x21a ? "s" : "t";
    } else {
        if ((cp >= 0x391 && cp <= 0x3a9) || (cp >= 0x410 && cp <= 0x42f))
            cp += 0x20;
        else if (cp >= 0x400 && cp <= 0x40f)
            cp += 0x50;
        if (cp < 0x800) {
            tmp[0] = (char)(0xc0 | cp >> 6);
            tmp[1] = (char)(0x80 | (cp & 0x3f));
            n = 2;
        } else if (cp < 0x10000) {
            tmp[0] = (char)(0xe0 | cp >> 12);
            tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
            tmp[2] = (char)(0x80 | (cp & 0x3f));
            n = 3;
        } else {
            tmp[0] = (char)(0xf0 | cp >> 18);
            tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
            tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
            tmp[3] = (char)(0x80 | (cp & 0x3f));
            n = 4;
        }
        f = tmp;
    }
    if (!n)
        n = strlen(f);
    if (*o + n > cap)
        return false;
    memcpy(out + *o, f, n);
    *o += n;
    return true;
}

/* Reads the word at q (a run of word code points), appending its folded
 * form to out[*o..cap). Returns the word's end (q when none starts at q).
 * *fits turns false when the folded form did not fit; the scan then stops
 * early, so a huge word costs no more than cap bytes. */
static size_t fold_word(const unsigned char *s, size_t len, size_t q, enum fold_mode mode, char *out,
                        size_t *o, size_t cap, bool *fits)
{
    *fits = true;
    while (q < len) {
        unsigned char c = s[q];
        if (c < 0x80) { /* the common case, without the table */
            if (!is_alnum(c) && c != '_')
                break;
            if (*o >= cap) {
                *fits = false;
                return q;
            }
            out[(*o)++] = (char)(is_upper(c) ? c + 32 : c);
            q++;
            continue;
        }
        size_t n;
        uint32_t cp = decode(s, len, q, &n);
        if (!cp_is_word(cp))
            break;
        if (!fold_cp(cp, mode, out, o, cap)) {
            *fits = false;
            return q;
        }
        q += n;
    }
    return q;
}

/* ---------------------------------------------------- small helpers --- */

/* Word lists carry their lengths: they are looked up for most words of
 * the text, where strlen on every entry would dominate the scan. */
struct word {
    const char *s;
    size_t n;
};
#define W(lit) {lit, sizeof(lit) - 1}

/* memcmp for the few bytes of a word, without the call. */
static inline bool same_bytes(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

/* True when w ends with a word of the list that is shorter than w. */
static bool ends_with_any(const char *w, size_t n, const struct word *list)
{
    for (; list->s; list++)
        if (n > list->n && w[n - 1] == list->s[list->n - 1] && same_bytes(w + n - list->n, list->s, list->n))
            return true;
    return false;
}

static bool ends_with(const char *w, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && same_bytes(w + n - k, suffix, k);
}

/* The keyword lists below (context words, units, titles, street words),
 * merged into one hash table per masker: a folded word is hashed once and
 * its bits say which lists hold it, instead of a scan of every list for
 * every word of the text. */
enum {
    KW_NEUTRAL = 1u << 0,
    KW_PHONE_YES = 1u << 1,
    KW_ID_YES = 1u << 2,
    KW_NO = 1u << 3,
    KW_UNIT = 1u << 4,
    KW_SSN_YES = 1u << 5,
    KW_HONORIFIC = 1u << 6,
    KW_STREET_DE = 1u << 7,
    KW_STREET_EN = 1u << 8,
    KW_PREFIX_STRONG = 1u << 9,
    KW_PREFIX_WEAK = 1u << 10,
    KW_NUMBER_FIRST = 1u << 11,
    KW_PREFIX_LOWER = 1u << 12,
    KW_PARTICLE = 1u << 13,
    KW_NOT_STREET = 1u << 14,
};

struct kwtab {
    uint64_t *keys; /* hash of the word, 0 for an empty slot */
    uint32_t *bits;
    size_t cap;     /* a power of two */
};

static uint64_t word_hash(const char *w, size_t n)
{
    uint64_t h = tl__hash_bytes(w, n);
    return h ? h : 1;
}

/* The lists (KW_*) that hold the folded word w[0..n). */
static uint32_t kw_bits(const struct kwtab *kw, const char *w, size_t n)
{
    if (n == 0 || n > 32)
        return 0;
    uint64_t h = word_hash(w, n);
    for (size_t i = h & (kw->cap - 1);; i = (i + 1) & (kw->cap - 1)) {
        if (kw->keys[i] == h)
            return kw->bits[i];
        if (!kw->keys[i])
            return 0;
    }
}

/* A digit run may start at p: nothing word-like before it, and not the
 * tail of a number such as 12.345, 2024-01 or 10:30. */
static bool num_left_ok(const unsigned char *s, size_t len, size_t p)
{
    if (word_before(s, len, p))
        return false;
    if (p >= 2 && is_digit(s[p - 2]) && s[p - 1] && strchr(".,:/-", s[p - 1]))
        return false;
    return true;
}

/* A number may end at e: nothing word-like after it, and no decimal or
 * date continuation (",89", ".2024", ":30"). */
static bool num_right_ok(const unsigned char *s, size_t len, size_t e)
{
    if (e >= len)
        return true;
    if (word_at(s, len, e))
        return false;
    if (e + 1 < len && is_digit(s[e + 1]) && s[e] && strchr(".,:/-", s[e]))
        return false;
    return true;
}

/* ---------------------------------------------------------- context --- */

/* Words before a number that say what it is. Weak detectors (phones, the
 * 11-digit tax id) give way to a vetoing word and are confirmed by an
 * affirming one; "no", "nr", "number" and the like are looked through. */
static const struct word CTX_NEUTRAL[] = {
    W("no"), W("nr"), W("nro"), W("number"), W("nummer"), W("num"), W("n"), W("unter"), W("under"),
    W("at"), W("on"), W("is"), W("ist"), W("lautet"), W("the"), W("die"), W("der"), W("den"), W("my"),
    W("meine"), W("mein"), W("meiner"), W("his"), W("her"), W("ihre"), W("new"), W("neue"), W("neuer"),
    W("neu"), W("your"), W("ihr"), W("our"), W("unsere"), W("this"), W("diese"), W("von"), W("of"),
    W("es"), W("e"), W("a"), W("an"), W("to"), W("zu"), W("la"), W("le"), W("el"), W("il"), W("de"),
    W("du"), W("mit"), W("with"), {NULL, 0}};

static const struct word CTX_PHONE_YES[] = {
    W("tel"), W("tele"), W("telefon"), W("telefonnummer"), W("telephone"), W("phone"), W("phones"),
    W("mobile"), W("mobil"), W("mobilnummer"), W("mobilfunk"), W("mobilfunknummer"), W("handy"),
    W("handynummer"), W("fax"), W("faxnummer"), W("call"), W("called"), W("calling"), W("ring"),
    W("rang"), W("ruf"), W("rufnummer"), W("anruf"), W("anrufen"), W("ruckruf"), W("ruckrufnummer"),
    W("whatsapp"), W("sms"), W("cell"), W("cellphone"), W("kontakt"), W("contact"), W("erreichbar"),
    W("reach"), W("reachable"), W("tlf"), W("telf"), W("tfn"), W("movil"), W("telefono"), W("portable"),
    W("telephono"), W("cellulare"), W("dial"), W("mob"), W("festnetz"), W("landline"), W("hotline"),
    {NULL, 0}};

static const struct word CTX_ID_YES[] = {
    W("steuer"), W("steuerid"), W("steueridentifikationsnummer"), W("identifikationsnummer"), W("idnr"),
    W("id"), W("tin"), W("tax"), W("taxid"), W("ssn"), W("social"), W("security"), W("national"),
    W("nationalid"), W("nino"), W("ni"), W("insurance"), W("pps"), W("ppsn"), W("dni"), W("nie"),
    W("nif"), W("personalausweis"), W("ausweis"), W("ausweisnummer"), W("identification"),
    W("identity"), W("codice"), W("fiscale"), W("cf"), W("personal"), W("personnummer"), {NULL, 0}};

static const struct word CTX_NO[] = {
    W("order"), W("orders"), W("ordernumber"), W("invoice"), W("inv"), W("ref"), W("reference"),
    W("referenz"), W("referenznummer"), W("rechnung"), W("rechnungsnummer"), W("rechnungsnr"),
    W("auftrag"), W("auftragsnummer"), W("auftragsnr"), W("bestellung"), W("bestellnummer"),
    W("bestellnr"), W("kundennummer"), W("kundennr"), W("customer"), W("kunde"), W("kunden"),
    W("vertrag"), W("vertragsnummer"), W("contract"), W("policy"), W("police"), W("polizze"),
    W("tracking"), W("sendungsnummer"), W("sendung"), W("paket"), W("parcel"), W("shipment"),
    W("konto"), W("kontonummer"), W("kontonr"), W("account"), W("acct"), W("transaction"),
    W("transaktion"), W("tx"), W("txn"), W("beleg"), W("belegnummer"), W("vorgang"),
    W("vorgangsnummer"), W("ticket"), W("case"), W("fall"), W("blz"), W("iban"), W("bic"), W("swift"),
    W("serial"), W("seriennummer"), W("sn"), W("mandat"), W("mandate"), W("mandatsreferenz"),
    W("receipt"), W("quittung"), W("batch"), W("charge"), W("lot"), W("isbn"), W("ean"), W("gtin"),
    W("sku"), W("artikel"), W("artikelnummer"), W("item"), W("version"), W("build"), W("release"),
    W("pin"), W("tan"), W("otp"), W("code"), W("amount"), W("betrag"), W("total"), W("summe"),
    W("balance"), W("saldo"), W("mcc"), W("terminal"), W("tid"), W("mid"), W("auth"),
    W("authorization"), W("approval"), W("ip"), W("port"), W("pid"), W("uid"), W("zip"), W("plz"),
    W("postleitzahl"), W("postcode"), W("session"), W("request"), W("trace"), W("span"), W("booking"),
    W("buchung"), W("reservation"), W("reservierung"), W("flight"), W("flug"), W("voucher"),
    W("gutschein"), W("coupon"), W("lieferschein"), W("delivery"), W("kartennummer"), W("card"),
    W("karte"), W("creditor"), W("glaubiger"), W("ustid"), W("ust"), W("vat"), W("steuernummer"),
    W("sortcode"), W("routing"), W("aba"), W("job"), W("run"), W("task"), W("commit"), W("user"),
    W("device"), W("geraet"), W("imei"), W("msisdn"), W("sequence"), W("seq"), W("offset"), W("count"),
    W("records"), W("rows"), W("aktenzeichen"), W("az"), W("geschaftszeichen"), W("gz"), W("akte"),
    W("dossier"), W("antrag"), W("antragsnummer"), W("schadennummer"), W("versicherungsnummer"),
    W("policennummer"), W("isin"), W("wkn"), W("lei"), {NULL, 0}};

enum ctx_verdict { CTX_NONE = 0, CTX_YES = 1, CTX_VETO = 2 };

/* Looks at up to three words before p (within 48 bytes, not across a line
 * break), nearest first. Words of the yes_bit list confirm, CTX_NO vetoes. */
static enum ctx_verdict context_before(const struct kwtab *kw, const unsigned char *s, size_t len,
                                       size_t p, uint32_t yes_bit)
{
    size_t q = p;
    size_t lo = p > 48 ? p - 48 : 0;
    for (int words = 0; words < 3 && q > lo; words++) {
        /* separators between the words and the number */
        while (q > lo && !word_before(s, len, q)) {
            unsigned char c = s[q - 1];
            if (c == '\n' || c == '\r' || c == ';' || c == '!' || c == '?' || c == '|')
                return CTX_NONE;
            q = prev_start(s, len, q, lo);
        }
        size_t we = q;
        while (q > lo && word_before(s, len, q))
            q = prev_start(s, len, q, lo);
        if (we == q)
            return CTX_NONE;
        char w[40];
        size_t wl = 0;
        bool fits;
        fold_word(s, len, q, FOLD_STRIP, w, &wl, sizeof w, &fits);
        if (!fits)
            return CTX_NONE;
        uint32_t b = kw_bits(kw, w, wl);
        if (b & KW_NO)
            return CTX_VETO;
        if (b & yes_bit)
            return CTX_YES;
        if (!(b & KW_NEUTRAL))
            return CTX_NONE; /* any other word ends the look */
    }
    return CTX_NONE;
}

/* Currencies and units after a number make it an amount or a measure. */
static const struct word UNITS_AFTER[] = {
    W("eur"), W("euro"), W("euros"), W("usd"), W("chf"), W("gbp"), W("pln"), W("czk"), W("sek"),
    W("dkk"), W("nok"), W("huf"), W("try"), W("jpy"), W("cent"), W("cents"), W("ct"), W("kg"), W("km"),
    W("g"), W("stk"), W("stuck"), W("pcs"), W("x"), W("mal"), W("times"), W("tage"), W("days"),
    W("min"), W("sec"), W("ms"), W("bytes"), W("kb"), W("mb"), W("gb"), W("punkte"), W("points"),
    {NULL, 0}};

static bool unit_after(const struct kwtab *kw, const unsigned char *s, size_t len, size_t e)
{
    size_t q = e;
    if (q < len && s[q] == ' ')
        q++;
    if (q >= len)
        return false;
    if (s[q] == '%' || s[q] == '$')
        return true;
    if (len - q >= 3 && (memcmp(s + q, "\xe2\x82\xac", 3) == 0 || memcmp(s + q, "\xc2\xa3", 2) == 0))
        return true;
    char w[16];
    size_t wl = 0;
    bool fits;
    fold_word(s, len, q, FOLD_STRIP, w, &wl, sizeof w, &fits);
    return fits && (kw_bits(kw, w, wl) & KW_UNIT);
}

/* ------------------------------------------------------------ cards --- */

static bool luhn_ok(const char *d, size_t n)
{
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned v = (unsigned)(d[n - 1 - i] - '0');
        if (i % 2 == 1) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
    }
    return sum % 10 == 0;
}

static unsigned prefix_num(const char *d, int k)
{
    unsigned v = 0;
    for (int i = 0; i < k; i++)
        v = v * 10 + (unsigned)(d[i] - '0');
    return v;
}

/* Issuer identification: the prefixes and lengths the card schemes use. */
static bool iin_ok(const char *d, size_t n)
{
    unsigned p1 = prefix_num(d, 1), p2 = prefix_num(d, 2), p3 = prefix_num(d, 3),
             p4 = prefix_num(d, 4);
    if (p1 == 4) /* Visa */
        return n == 13 || n == 16 || n == 19;
    if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) /* Mastercard */
        return n == 16;
    if (p4 >= 2200 && p4 <= 2204) /* Mir */
        return n >= 16 && n <= 19;
    if (p2 == 34 || p2 == 37) /* American Express */
        return n == 15;
    if ((p3 >= 300 && p3 <= 305) || p4 == 3095 || p2 == 36 || p2 == 38 || p2 == 39) /* Diners */
        return n >= 14 && n <= 19;
    if (p4 >= 3528 && p4 <= 3589) /* JCB */
        return n >= 16 && n <= 19;
    if (p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649) || p2 == 62) /* Discover, UnionPay */
        return n >= 16 && n <= 19;
    if (p2 == 50 || (p2 >= 56 && p2 <= 58) || p2 == 63 || p2 == 67) /* Maestro, girocard */
        return n >= 13 && n <= 19;
    return false;
}

/* 13-19 digits: one run, or groups joined by one kind of separator (space
 * or dash) in the printed shapes 4-4-4-4(-1..3), 4-4-4-1 and 4-6-5/4-6-4. */
static size_t card_at(const unsigned char *s, size_t len, size_t p, size_t *shape_end)
{
    size_t gend[8];
    size_t glen[8];
    int ng = 0;
    unsigned char sep = 0;
    size_t q = p;
    while (ng < 8) {
        size_t st = q;
        while (q < len && is_digit(s[q]) && q - st < 20)
            q++;
        if (q - st > 19 || q == st)
            return 0;
        glen[ng] = q - st;
        gend[ng] = q;
        ng++;
        if (q + 1 < len && (s[q] == ' ' || s[q] == '-') && (!sep || sep == s[q]) && is_digit(s[q + 1])) {
            sep = s[q];
            q++;
            continue;
        }
        break;
    }
    for (int k = ng; k >= 1; k--) {
        size_t total = 0;
        for (int i = 0; i < k; i++)
            total += glen[i];
        if (total < 13 || total > 19)
            continue;
        bool shape = k == 1 || (k == 3 && glen[0] == 4 && glen[1] == 6 && (glen[2] == 5 || glen[2] == 4));
        if (!shape) {
            shape = glen[k - 1] >= 1 && glen[k - 1] <= 4;
            for (int i = 0; i < k - 1; i++)
                shape = shape && glen[i] == 4;
        }
        if (!shape || !num_right_ok(s, len, gend[k - 1]))
            continue;
        if (gend[k - 1] > *shape_end)
            *shape_end = gend[k - 1];
        char d[20];
        size_t n = 0;
        for (size_t i = p; i < gend[k - 1]; i++)
            if (is_digit(s[i]))
                d[n++] = (char)s[i];
        if (luhn_ok(d, n) && iin_ok(d, n))
            return gend[k - 1];
    }
    return 0;
}

/* ------------------------------------------------------------ IBANs --- */

/* Country, total length, BBAN shape (n digits, a upper-case letters, c
 * letters or digits), from the SWIFT IBAN registry: every SEPA country
 * and a few more that reach European banks often. */
static const struct iban_country {
    char cc[3];
    unsigned char len;
    const char *bban;
} IBAN_COUNTRIES[] = {
    {"AD", 24, "8n12c"},   {"AE", 23, "19n"},      {"AL", 28, "8n16c"},    {"AT", 20, "16n"},
    {"AZ", 28, "4a20c"},   {"BA", 20, "16n"},      {"BE", 16, "12n"},      {"BG", 22, "4a6n8c"},
    {"BH", 22, "4a14c"},   {"BR", 29, "23n1a1c"},  {"CH", 21, "5n12c"},    {"CY", 28, "8n16c"},
    {"CZ", 24, "20n"},     {"DE", 22, "18n"},      {"DK", 18, "14n"},      {"EE", 20, "16n"},
    {"ES", 24, "20n"},     {"FI", 18, "14n"},      {"FO", 18, "14n"},      {"FR", 27, "10n11c2n"},
    {"GB", 22, "4a14n"},   {"GE", 22, "2a16n"},    {"GI", 23, "4a15c"},    {"GL", 18, "14n"},
    {"GR", 27, "7n16c"},   {"HR", 21, "17n"},      {"HU", 28, "24n"},      {"IE", 22, "4a14n"},
    {"IL", 23, "19n"},     {"IS", 26, "22n"},      {"IT", 27, "1a10n12c"}, {"KZ", 20, "3n13c"},
    {"LB", 28, "4n20c"},   {"LI", 21, "5n12c"},    {"LT", 20, "16n"},      {"LU", 20, "3n13c"},
    {"LV", 21, "4a13c"},   {"MC", 27, "10n11c2n"}, {"MD", 24, "20c"},      {"ME", 22, "18n"},
    {"MK", 19, "3n10c2n"}, {"MT", 31, "4a5n18c"},  {"NL", 18, "4a10n"},    {"NO", 15, "11n"},
    {"PL", 28, "24n"},     {"PT", 25, "21n"},      {"RO", 24, "4a16c"},    {"RS", 22, "18n"},
    {"SA", 24, "2n18c"},   {"SE", 24, "20n"},      {"SI", 19, "15n"},      {"SK", 24, "20n"},
    {"SM", 27, "1a10n12c"}, {"TN", 24, "20n"},     {"TR", 26, "6n16c"},    {"UA", 29, "6n19c"},
    {"VA", 22, "18n"},     {"XK", 20, "16n"},
};

static bool bban_shape_ok(const char *b, const char *shape)
{
    while (*shape) {
        unsigned k = 0;
        while (is_digit((unsigned char)*shape))
            k = k * 10 + (unsigned)(*shape++ - '0');
        char cls = *shape++;
        for (unsigned i = 0; i < k; i++, b++) {
            unsigned char c = (unsigned char)*b;
            if ((cls == 'n' && !is_digit(c)) || (cls == 'a' && !is_upper(c)) ||
                (cls == 'c' && !is_digit(c) && !is_upper(c)))
                return false;
        }
    }
    return true;
}

/* Compact or in groups of four separated by single spaces or dashes (one
 * kind, allowed at any group boundary), any case; the country's exact
 * length, its BBAN shape and mod 97 == 1. */
static size_t iban_at(const unsigned char *s, size_t len, size_t p, size_t *shape_end)
{
    if (p + 15 > len || !is_alpha(s[p]) || !is_alpha(s[p + 1]) || !is_digit(s[p + 2]) ||
        !is_digit(s[p + 3]))
        return 0;
    char cc[2] = {(char)to_upper(s[p]), (char)to_upper(s[p + 1])};
    const struct iban_country *c = NULL;
    for (size_t i = 0; i < sizeof IBAN_COUNTRIES / sizeof IBAN_COUNTRIES[0]; i++)
        if (IBAN_COUNTRIES[i].cc[0] == cc[0] && IBAN_COUNTRIES[i].cc[1] == cc[1])
            c = &IBAN_COUNTRIES[i];
    if (!c)
        return 0;
    char b[40];
    size_t n = 0, q = p;
    unsigned char sep = 0;
    while (n < c->len && q < len) {
        if (n > 0 && n % 4 == 0 && (s[q] == ' ' || s[q] == '-') && (!sep || sep == s[q]) && q + 1 < len &&
            is_alnum(s[q + 1])) {
            sep = s[q];
            q++;
        }
        if (!is_alnum(s[q]))
            break;
        b[n++] = (char)to_upper(s[q++]);
    }
    if (n != c->len || word_at(s, len, q))
        return 0;
    *shape_end = q;
    b[n] = 0;
    if (!bban_shape_ok(b + 4, c->bban))
        return 0;
    unsigned r = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)b[(i + 4) % n];
        if (is_digit(ch))
            r = (r * 10 + (ch - '0')) % 97;
        else
            r = (r * 100 + (ch - 'A' + 10)) % 97;
    }
    return r == 1 ? q : 0;
}

/* ----------------------------------------------------------- emails --- */

static bool email_local_ascii(unsigned c)
{
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static bool email_label_at(const unsigned char *s, size_t len, size_t i)
{
    if (i >= len)
        return false;
    if (s[i] < 0x80)
        return is_alnum(s[i]) || s[i] == '-';
    size_t n;
    uint32_t cp = decode(s, len, i, &n);
    return cp >= 0xc0 && cp_is_word(cp);
}

/* The address around the '@' at `at`, its local part not reaching below
 * lo: local@label.label..., a local part of 1-64 bytes that starts with a
 * letter or digit, no "..", a TLD of two or more ASCII letters (or xn--). */
static bool email_span(const unsigned char *s, size_t len, size_t at, size_t lo, size_t *st, size_t *en)
{
    size_t i = at;
    while (i > lo) {
        size_t j = prev_start(s, len, i, lo);
        size_t n;
        uint32_t cp = decode(s, len, j, &n);
        if (!(cp < 0x80 ? email_local_ascii(cp) : cp >= 0xc0 && cp_is_word(cp)))
            break;
        i = j;
        if (at - i > 64)
            return false;
    }
    while (i < at && !is_alnum(s[i]) && s[i] < 0x80)
        i++;
    if (i == at || s[at - 1] == '.')
        return false;
    for (size_t k = i; k + 1 < at; k++)
        if (s[k] == '.' && s[k + 1] == '.')
            return false;
    size_t j = at + 1, labels = 0, last = j;
    for (;;) {
        size_t k = j;
        while (email_label_at(s, len, j)) {
            size_t n;
            decode(s, len, j, &n);
            j += n;
            if (j - at > 254)
                return false;
        }
        if (j == k || s[k] == '-' || s[j - 1] == '-')
            return false;
        labels++;
        last = k;
        if (j + 1 < len && s[j] == '.' && email_label_at(s, len, j + 1)) {
            j++;
            continue;
        }
        break;
    }
    if (labels < 2)
        return false;
    size_t tl = j - last;
    bool tld = tl >= 2;
    for (size_t k = last; k < j && tld; k++)
        tld = is_alpha(s[k]);
    if (!tld && !(tl >= 5 && memcmp(s + last, "xn--", 4) == 0))
        return false;
    *st = i;
    *en = j;
    return true;
}

/* The next email at or after a position, found lazily from the next '@':
 * every '@' is looked at once, so the whole scan stays linear. */
struct email_cursor {
    size_t next_at; /* where the search for the next '@' resumes */
    size_t at;      /* the '@' of the pending email */
    size_t start, end;
    bool have;
};

static void email_next(struct email_cursor *ec, const unsigned char *s, size_t len, size_t lo)
{
    ec->have = false;
    while (ec->next_at < len) {
        const unsigned char *a = memchr(s + ec->next_at, '@', len - ec->next_at);
        if (!a) {
            ec->next_at = len;
            return;
        }
        size_t at = (size_t)(a - s);
        ec->next_at = at + 1;
        if (at > lo && email_span(s, len, at, lo, &ec->start, &ec->end)) {
            ec->at = at;
            ec->have = true;
            return;
        }
    }
}

/* Keeps the pending email at or after p (a span that ended past its start
 * cut its local part: look again from p). */
static void email_sync(struct email_cursor *ec, const unsigned char *s, size_t len, size_t p)
{
    if (ec->have && ec->start < p) {
        if (ec->at > p && email_span(s, len, ec->at, p, &ec->start, &ec->end))
            return;
        email_next(ec, s, len, p);
    }
}

/* ----------------------------------------------------------- phones --- */

/* ITU country calling codes: 1 and 7, the assigned two-digit codes, and
 * the zones whose codes have three digits. */
static int cc_len(const char *d, size_t n)
{
    if (n < 3)
        return 0;
    if (d[0] == '1' || d[0] == '7')
        return 1;
    static const char two[] = "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 "
                              "57 58 60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98 ";
    static const char three[] = "21 22 23 24 25 26 29 35 37 38 42 50 59 67 68 69 85 87 88 96 97 99 ";
    char two_d[4] = {d[0], d[1], ' ', 0};
    if (strstr(two, two_d))
        return 2;
    if (strstr(three, two_d))
        return 3;
    return 0;
}

struct phone_parse {
    char d[24];  /* the digits, trunk "(0)" left out */
    size_t nd;
    size_t ng;   /* digit groups */
    size_t glen[12];
    size_t end;  /* after the last group (or its closing parenthesis) */
    bool dots;   /* separated by dots */
};

/* Digit groups from q: single spaces, '-', '/', '.' (optionally with a
 * space on either side) between them, and at most one group in
 * parentheses ("(0)30", "(030)", "(212)"). Dots never mix with the other
 * separators, so "01.02.2024 10" stops after the date. */
static void phone_groups(const unsigned char *s, size_t len, size_t q, struct phone_parse *pp)
{
    memset(pp, 0, sizeof *pp);
    int mode = 0; /* 0 none yet, 1 dots, 2 others */
    bool paren_used = false;
    size_t end = q;
    while (pp->ng < 12) {
        size_t g0 = q;
        bool paren = false;
        if (q < len && s[q] == '(' && !paren_used) {
            paren = true;
            q++;
        }
        char gd[16];
        size_t gl = 0;
        for (;;) {
            while (q < len && is_digit(s[q]) && gl < sizeof gd)
                gd[gl++] = (char)s[q++];
            /* "(0 30)": spaces inside the parentheses */
            if (paren && gl && q + 1 < len && s[q] == ' ' && is_digit(s[q + 1]))
                q++;
            else
                break;
        }
        if (gl == 0 || (paren && (q >= len || s[q] != ')')) || pp->nd + gl > 20) {
            q = g0;
            break;
        }
        bool trunk = paren && gl == 1 && gd[0] == '0' && pp->ng > 0;
        if (paren) {
            q++;
            paren_used = true;
        }
        if (!trunk) {
            memcpy(pp->d + pp->nd, gd, gl);
            pp->nd += gl;
            pp->glen[pp->ng++] = gl;
        }
        end = q;
        /* separator */
        size_t r = q;
        bool sp = false;
        if (r < len && s[r] == ' ') {
            r++;
            sp = true;
        }
        int sep_mode = sp ? 2 : 0;
        if (r < len && (s[r] == '-' || s[r] == '/' || s[r] == '.')) {
            sep_mode = s[r] == '.' ? 1 : 2;
            if (s[r] == '.' && sp)
                break;
            r++;
            if (r < len && s[r] == ' ')
                r++;
        }
        if (!sep_mode && !(r < len && s[r] == '(' && !paren_used) && !(paren && r < len && is_digit(s[r])))
            break;
        if (sep_mode && mode && sep_mode != mode)
            break;
        if (sep_mode)
            mode = sep_mode;
        if (!(r < len && (is_digit(s[r]) || (s[r] == '(' && !paren_used))))
            break;
        q = r;
    }
    pp->end = end;
    pp->dots = mode == 1;
}

/* North American numbers without +1: "(212) 555-0123", the one national
 * shape without a leading 0 distinctive enough to take: area and exchange
 * codes start with 2-9. */
static size_t nanp_at(const unsigned char *s, size_t len, size_t p)
{
    if (p + 14 > len || s[p] != '(' || s[p + 4] != ')' || s[p + 5] != ' ')
        return 0;
    static const int digit_at[] = {1, 2, 3, 6, 7, 8, 10, 11, 12, 13};
    for (int i = 0; i < 10; i++)
        if (!is_digit(s[p + (size_t)digit_at[i]]))
            return 0;
    if (s[p + 1] < '2' || s[p + 6] < '2' || (s[p + 9] != '-' && s[p + 9] != ' '))
        return 0;
    return num_right_ok(s, len, p + 14) ? p + 14 : 0;
}

static size_t phone_at(const struct kwtab *kw, const unsigned char *s, size_t len, size_t p)
{
    struct phone_parse pp;
    bool plus = s[p] == '+';
    bool intl = plus || (p + 2 < len && s[p] == '0' && s[p + 1] == '0');
    if (plus) {
        if (p + 1 >= len || !is_digit(s[p + 1]))
            return 0;
        phone_groups(s, len, p + 1, &pp);
    } else if (intl) {
        phone_groups(s, len, p + 2, &pp);
    } else if (s[p] == '(' || s[p] == '0') {
        size_t q = s[p] == '(' ? p + 1 : p;
        if (q + 1 >= len || s[q] != '0')
            return 0;
        size_t q2 = s[q + 1] == ' ' && s[p] == '(' ? q + 2 : q + 1;
        if (q2 >= len || !is_digit(s[q2]) || s[q2] == '0')
            return 0;
        phone_groups(s, len, p, &pp);
    } else {
        return 0;
    }
    if (pp.ng == 0 || !num_right_ok(s, len, pp.end))
        return 0;
    if (intl) {
        if (cc_len(pp.d, pp.nd) == 0 || pp.nd > 15 || pp.nd < (plus ? 7u : 9u))
            return 0;
        if (!plus && pp.ng == 1 && pp.nd < 10)
            return 0;
        if (pp.dots && pp.ng < 4)
            return 0;
    } else {
        if (pp.nd < 9 || pp.nd > 13)
            return 0;
        if (pp.ng == 1 && (pp.nd < 10 || pp.nd > 12))
            return 0;
        if (pp.ng > 1 && (pp.glen[0] < 2 || pp.glen[0] > 5))
            return 0;
        /* one group of a single digit inside ("030 / 2 34 56 78"), never
         * last; and not the AAA-GG-SSSS shape of an SSN */
        int singles = 0;
        for (size_t i = 1; i < pp.ng; i++)
            if (pp.glen[i] < 2 && (i + 1 == pp.ng || singles++))
                return 0;
        if (pp.ng == 3 && pp.glen[0] == 3 && pp.glen[1] == 2 && pp.glen[2] == 4 && s[p + 3] == '-')
            return 0;
        if (pp.dots && pp.ng < 4)
            return 0;
    }
    if (unit_after(kw, s, len, pp.end))
        return 0;
    if (!plus && context_before(kw, s, len, p, KW_PHONE_YES) == CTX_VETO)
        return 0;
    return pp.end;
}

/* ----------------------------------------------------- national ids --- */

/* ISO 7064 MOD 11,10 over the first ten digits, as on the German tax id
 * (and the national ids of `teller generate`). */
static bool mod11_10_ok(const char *d)
{
    int prod = 10;
    for (int i = 0; i < 10; i++) {
        int sum = (d[i] - '0' + prod) % 10;
        if (sum == 0)
            sum = 10;
        prod = (2 * sum) % 11;
    }
    return (11 - prod) % 10 == d[10] - '0';
}

/* 11 digits, compact or as "12 345 678 901"; first digit not 0. */
static size_t taxid_at(const struct kwtab *kw, const unsigned char *s, size_t len, size_t p)
{
    char d[12];
    size_t q = p, n = 0;
    while (q < len && is_digit(s[q]) && n < 12)
        d[n++] = (char)s[q++];
    if (n == 2 && q + 12 <= len) { /* the grouped print form */
        static const int groups[] = {3, 3, 3};
        size_t r = q;
        for (int g = 0; g < 3; g++) {
            if (s[r] != ' ')
                return 0;
            r++;
            for (int k = 0; k < groups[g]; k++, r++) {
                if (r >= len || !is_digit(s[r]))
                    return 0;
                d[n++] = (char)s[r];
            }
        }
        q = r;
        if (q < len && is_digit(s[q]))
            return 0;
    }
    if (n != 11 || d[0] == '0' || !num_right_ok(s, len, q) || !mod11_10_ok(d))
        return 0;
    if (unit_after(kw, s, len, q) || context_before(kw, s, len, p, KW_ID_YES) == CTX_VETO)
        return 0;
    return q;
}

/* US Social Security number AAA-GG-SSSS (dashes or spaces, not mixed, or
 * none at all after words naming it):
 * area not 000, 666 or 9xx, group not 00, serial not 0000, and not the
 * two numbers printed on sample cards. */
static const struct word CTX_SSN_YES[] = {
    W("ssn"), W("social"), W("security"), W("ssa"), {NULL, 0}};

static size_t ssn_at(const struct kwtab *kw, const unsigned char *s, size_t len, size_t p)
{
    /* nine digits in a row only right after "SSN", "social security" */
    if (p + 9 <= len) {
        size_t q = p;
        while (q < len && is_digit(s[q]) && q - p < 10)
            q++;
        if (q - p == 9 && num_right_ok(s, len, q) &&
            context_before(kw, s, len, p, KW_SSN_YES) == CTX_YES) {
            unsigned area = (s[p] - '0') * 100u + (s[p + 1] - '0') * 10u + (s[p + 2] - '0');
            bool zero_group = s[p + 3] == '0' && s[p + 4] == '0';
            bool zero_serial = memcmp(s + p + 5, "0000", 4) == 0;
            if (area != 0 && area != 666 && area < 900 && !zero_group && !zero_serial)
                return q;
        }
    }
    if (p + 11 > len)
        return 0;
    const unsigned char *t = s + p;
    unsigned char sep = t[3];
    if ((sep != '-' && sep != ' ') || t[6] != sep)
        return 0;
    static const int pos[] = {0, 1, 2, 4, 5, 7, 8, 9, 10};
    for (int i = 0; i < 9; i++)
        if (!is_digit(t[pos[i]]))
            return 0;
    if (!num_right_ok(s, len, p + 11))
        return 0;
    unsigned area = (t[0] - '0') * 100u + (t[1] - '0') * 10u + (t[2] - '0');
    unsigned group = (t[4] - '0') * 10u + (t[5] - '0');
    unsigned serial = (t[7] - '0') * 1000u + (t[8] - '0') * 100u + (t[9] - '0') * 10u + (t[10] - '0');
    if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0)
        return 0;
    if ((area == 78 && group == 5 && serial == 1120) || (area == 219 && group == 9 && serial == 9999))
        return 0;
    if (sep == ' ' && unit_after(kw, s, len, p + 11))
        return 0;
    return p + 11;
}

/* Irish PPS number: seven digits, a check letter, and an optional second
 * letter (W, or A-I on numbers issued since 2013) that the check covers. */
static size_t pps_at(const unsigned char *s, size_t len, size_t p)
{
    if (p + 8 > len)
        return 0;
    for (int i = 0; i < 7; i++)
        if (!is_digit(s[p + i]))
            return 0;
    unsigned char check = s[p + 7];
    if (!is_upper(check))
        return 0;
    size_t e = p + 8;
    unsigned second = 0;
    if (e < len && is_upper(s[e])) {
        if (s[e] != 'W' && !(s[e] >= 'A' && s[e] <= 'I'))
            return 0;
        second = s[e] == 'W' ? 0 : (unsigned)(s[e] - 'A' + 1);
        e++;
    }
    if (word_at(s, len, e))
        return 0;
    unsigned sum = second * 9;
    for (int i = 0; i < 7; i++)
        sum += (unsigned)(s[p + i] - '0') * (unsigned)(8 - i);
    unsigned r = sum % 23;
    char want = r == 0 ? 'W' : (char)('A' + r - 1);
    return check == (unsigned char)want ? e : 0;
}

/* Spanish DNI (8 digits and a letter) and NIE (X, Y or Z, 7 digits and a
 * letter); the letter is the number mod 23. A dash before it is allowed. */
static size_t dni_at(const unsigned char *s, size_t len, size_t p)
{
    static const char letters[] = "TRWAGMYFPDXBNJZSQVHLCKE";
    unsigned long v = 0;
    size_t q = p;
    if (s[q] == 'X' || s[q] == 'Y' || s[q] == 'Z') {
        v = (unsigned long)(s[q] - 'X');
        q++;
        for (int i = 0; i < 7; i++, q++) {
            if (q >= len || !is_digit(s[q]))
                return 0;
            v = v * 10 + (s[q] - '0');
        }
    } else {
        for (int i = 0; i < 8; i++, q++) {
            if (q >= len || !is_digit(s[q]))
                return 0;
            v = v * 10 + (s[q] - '0');
        }
    }
    if (q < len && s[q] == '-')
        q++;
    if (q >= len || !is_upper(s[q]) || s[q] != (unsigned char)letters[v % 23])
        return 0;
    q++;
    return word_at(s, len, q) ? 0 : q;
}

/* UK National Insurance number: two prefix letters (not D F I Q U V, the
 * second not O either, nor BG GB NK KN TN NT ZZ), six digits (optionally in
 * pairs), a suffix A-D; all letters of one case. */
static size_t nino_at(const unsigned char *s, size_t len, size_t p)
{
    if (p + 9 > len || !is_alpha(s[p]) || !is_alpha(s[p + 1]))
        return 0;
    bool lower = is_lower(s[p]);
    if (is_lower(s[p + 1]) != lower)
        return 0;
    char a = (char)to_upper(s[p]), b = (char)to_upper(s[p + 1]);
    if (strchr("DFIQUV", a) || strchr("DFIOQUV", b))
        return 0;
    static const char *const bad[] = {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"};
    for (int i = 0; i < 7; i++)
        if (bad[i][0] == a && bad[i][1] == b)
            return 0;
    size_t q = p + 2;
    bool spaced = s[q] == ' ';
    for (int pair = 0; pair < 3; pair++) {
        if (spaced) {
            if (q >= len || s[q] != ' ')
                return 0;
            q++;
        }
        if (q + 2 > len || !is_digit(s[q]) || !is_digit(s[q + 1]))
            return 0;
        q += 2;
    }
    if (spaced && q < len && s[q] == ' ')
        q++;
    if (q >= len || s[q] < (lower ? 'a' : 'A') || s[q] > (lower ? 'd' : 'D'))
        return 0;
    q++;
    return word_at(s, len, q) ? 0 : q;
}

/* Italian codice fiscale: 6 letters, 2 digits, a month letter, 2 digits,
 * a letter, 3 digits, a check letter (digits may be replaced by letters
 * L-V when codes collide). */
static size_t cf_at(const unsigned char *s, size_t len, size_t p)
{
    if (p + 16 > len)
        return 0;
    static const char omocodia[] = "LMNPQRSTUV";
    static const char pattern[] = "AAAAAA99M99A999A";
    char c[16];
    for (int i = 0; i < 16; i++) {
        unsigned char ch = (unsigned char)to_upper(s[p + i]);
        c[i] = (char)ch;
        if (pattern[i] == 'A' && !is_upper(ch))
            return 0;
        if (pattern[i] == '9' && !is_digit(ch) && !(is_upper(ch) && strchr(omocodia, ch)))
            return 0;
        if (pattern[i] == 'M' && !strchr("ABCDEHLMPRST", ch))
            return 0;
    }
    if (word_at(s, len, p + 16))
        return 0;
    static const unsigned char odd[36] = {1,  0,  5,  7,  9,  13, 15, 17, 19, 21, 1,  0,
                                          5,  7,  9,  13, 15, 17, 19, 21, 2,  4,  18, 20,
                                          11, 3,  6,  8,  12, 14, 16, 10, 22, 25, 24, 23};
    unsigned sum = 0;
    for (int i = 0; i < 15; i++) {
        unsigned char ch = (unsigned char)c[i];
        unsigned idx = is_digit(ch) ? (unsigned)(ch - '0') : (unsigned)(ch - 'A' + 10);
        if (i % 2 == 0)
            sum += odd[idx];
        else
            sum += is_digit(ch) ? (unsigned)(ch - '0') : (unsigned)(ch - 'A');
    }
    return c[15] == 'A' + (char)(sum % 26) ? p + 16 : 0;
}

/* ------------------------------------------------------- hash sets --- */

/* Open addressing over 64-bit hashes (0 marks an empty slot). Names are
 * kept only as hashes: a collision can mask a stranger's words, which
 * errs on the safe side, at odds of about n / 2^64. */
struct hset {
    uint64_t *slots;
    size_t cap; /* a power of two, or 0 */
    size_t n;
};

#define HSET_MAX_ENTRIES ((size_t)1 << 27)

static bool hset_has(const struct hset *h, uint64_t v)
{
    if (!h->cap)
        return false;
    for (size_t i = v & (h->cap - 1);; i = (i + 1) & (h->cap - 1)) {
        if (h->slots[i] == v)
            return true;
        if (!h->slots[i])
            return false;
    }
}

static int hset_add(struct hset *h, uint64_t v)
{
    if (hset_has(h, v))
        return 0;
    if ((h->n + 1) * 2 > h->cap) {
        if (h->n >= HSET_MAX_ENTRIES)
            return TL_ETOOBIG;
        size_t cap = h->cap ? h->cap * 2 : 1024;
        uint64_t *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return TL_ENOMEM;
        for (size_t i = 0; i < h->cap; i++) {
            uint64_t x = h->slots[i];
            if (!x)
                continue;
            size_t j = x & (cap - 1);
            while (slots[j])
                j = (j + 1) & (cap - 1);
            slots[j] = x;
        }
        free(h->slots);
        h->slots = slots;
        h->cap = cap;
    }
    size_t j = v & (h->cap - 1);
    while (h->slots[j])
        j = (j + 1) & (h->cap - 1);
    h->slots[j] = v;
    h->n++;
    return 0;
}

/* ---------------------------------------------------------- masker --- */

static int kw_build(struct kwtab *kw);

struct tl_masker {
    unsigned options;
    struct hset full;    /* every spelling and order of every full name */
    struct hset first;   /* the first word of each of those */
    struct hset surname; /* surnames (after a title, or alone with NAME_PARTS) */
    struct hset sfirst;  /* the first word of each surname */
    struct hset given;   /* given names (alone with NAME_PARTS only) */
    struct kwtab kw;     /* the keyword lists */
};

int tl_masker_new(tl_masker **out, tl_err *err)
{
    if (!out)
        return tl_err_set(err, TL_EINVAL, "tl_masker_new: out is NULL");
    tl_masker *m = calloc(1, sizeof *m);
    if (!m || kw_build(&m->kw) < 0) {
        tl_masker_free(m);
        return tl_err_set(err, TL_ENOMEM, "out of memory creating a masker");
    }
    *out = m;
    return 0;
}

void tl_masker_free(tl_masker *m)
{
    if (!m)
        return;
    free(m->full.slots);
    free(m->first.slots);
    free(m->surname.slots);
    free(m->sfirst.slots);
    free(m->given.slots);
    free(m->kw.keys);
    free(m->kw.bits);
    free(m);
}

void tl_masker_set_options(tl_masker *m, unsigned options)
{
    if (m)
        m->options = options;
}

/* ------------------------------------------------------------ names --- */

#define NAME_KEY_MAX 256
#define NAME_MAX_WORDS 8

/* Characters allowed between the words of a name: spaces (incl. no-break
 * and thin), hyphens and apostrophes, so "O'Brien", "O Brien", "Al-Hassan"
 * and "Al Hassan" read alike. */
static size_t name_joiner(const unsigned char *s, size_t len, size_t q)
{
    unsigned char c = s[q];
    if (c == ' ' || c == '\t' || c == '-' || c == '\'')
        return 1;
    if (c < 0x80)
        return 0;
    size_t n;
    uint32_t cp = decode(s, len, q, &n);
    if (cp == 0xa0 || cp == 0x202f || cp == 0x2009 || cp == 0x2019 || cp == 0x2010 || cp == 0x2011)
        return n;
    return 0;
}

/* The separator between two words of a name at q: one to four joiners with
 * at most one comma among them, followed by a word. Returns its end (q when
 * there is none); *comma tells whether it held a comma. */
static size_t name_sep(const unsigned char *s, size_t len, size_t q, bool *comma)
{
    size_t r = q;
    int count = 0;
    *comma = false;
    while (r < len && count < 4) {
        size_t n = 0;
        if (s[r] == ',' && !*comma) {
            *comma = true;
            n = 1;
        } else {
            n = name_joiner(s, len, r);
        }
        if (!n)
            break;
        r += n;
        count++;
    }
    if (r == q || !word_at(s, len, r))
        return q;
    return r;
}

/* Words of a name, with the folded key built as the text side builds it. */
struct name_words {
    size_t n;
    size_t start[NAME_MAX_WORDS], end[NAME_MAX_WORDS];
    int comma_after; /* index of the word a comma follows, or -1 */
    bool caps;       /* every word starts with an upper-case letter */
    bool umlaut;     /* ä, ö or ü somewhere: add the ae/oe/ue spelling too */
};

static int split_name(const char *name, struct name_words *w, tl_err *err)
{
    const unsigned char *s = (const unsigned char *)name;
    size_t len = strlen(name);
    memset(w, 0, sizeof *w);
    w->comma_after = -1;
    w->caps = true;
    if (len >= NAME_KEY_MAX)
        return tl_err_set(err, TL_EINVAL, "customer name of %zu bytes is longer than %d", len,
                          NAME_KEY_MAX - 1);
    size_t q = 0;
    bool letters = false;
    while (q < len) {
        if (!word_at(s, len, q)) {
            size_t n;
            uint32_t cp = decode(s, len, q, &n);
            if (cp == ',' && w->n > 0)
                w->comma_after = (int)w->n - 1;
            q += n;
            continue;
        }
        if (w->n == NAME_MAX_WORDS)
            return tl_err_set(err, TL_EINVAL, "customer name has more than %d words", NAME_MAX_WORDS);
        w->start[w->n] = q;
        size_t n;
        uint32_t cp = decode(s, len, q, &n);
        if (!cp_is_upper(cp))
            w->caps = false;
        while (q < len && word_at(s, len, q)) {
            cp = decode(s, len, q, &n);
            if (cp == 0xe4 || cp == 0xf6 || cp == 0xfc || cp == 0xc4 || cp == 0xd6 || cp == 0xdc)
                w->umlaut = true;
            if (!(cp < 0x80 && is_digit(cp)))
                letters = true;
            q += n;
        }
        w->end[w->n++] = q;
    }
    if (!letters || w->n == 0)
        return tl_err_set(err, TL_EINVAL, "customer name has no letters");
    return 0;
}

/* Appends words [a, b) of the name, folded and joined by single spaces. */
static bool key_words(const char *name, const struct name_words *w, size_t a, size_t b,
                      enum fold_mode mode, char *key, size_t *kl)
{
    const unsigned char *s = (const unsigned char *)name;
    size_t len = strlen(name);
    for (size_t i = a; i < b; i++) {
        if (i > a) {
            if (*kl + 1 > NAME_KEY_MAX)
                return false;
            key[(*kl)++] = ' ';
        }
        bool fits;
        fold_word(s, len, w->start[i], mode, key, kl, NAME_KEY_MAX, &fits);
        if (!fits)
            return false;
    }
    return true;
}

static int add_key(struct hset *h, const char *key, size_t kl)
{
    return hset_add(h, word_hash(key, kl));
}

/* Adds one reading of the name: the given part is words [g0, g1), the
 * surname part words [s0, s1). */
static int add_split(tl_masker *m, const char *name, const struct name_words *w, size_t g0, size_t g1,
                     size_t s0, size_t s1, enum fold_mode mode)
{
    char given[NAME_KEY_MAX], sur[NAME_KEY_MAX], key[NAME_KEY_MAX * 2 + 4];
    size_t gl = 0, sl = 0;
    if (!key_words(name, w, g0, g1, mode, given, &gl) || !key_words(name, w, s0, s1, mode, sur, &sl))
        return TL_EINVAL;
    char gfirst[NAME_KEY_MAX], sfirst[NAME_KEY_MAX];
    size_t gfl = 0, sfl = 0;
    key_words(name, w, g0, g0 + 1, mode, gfirst, &gfl);
    key_words(name, w, s0, s0 + 1, mode, sfirst, &sfl);
    int rc = 0;
    /* "given surname", "surname given", "surname, given" */
    const struct {
        const char *a;
        size_t al;
        const char *sep;
        const char *b;
        size_t bl;
    } forms[] = {{given, gl, " ", sur, sl}, {sur, sl, " ", given, gl}, {sur, sl, ", ", given, gl}};
    for (size_t f = 0; f < 3 && rc == 0; f++) {
        size_t kl = 0, sepl = strlen(forms[f].sep);
        if (forms[f].al + sepl + forms[f].bl > NAME_KEY_MAX)
            return TL_EINVAL;
        memcpy(key, forms[f].a, forms[f].al);
        kl = forms[f].al;
        memcpy(key + kl, forms[f].sep, sepl);
        kl += sepl;
        memcpy(key + kl, forms[f].b, forms[f].bl);
        kl += forms[f].bl;
        rc = add_key(&m->full, key, kl);
    }
    /* "P. Jansen": the initial of the first given name, its dot (without
     * it, "a Smith fan" would match) and the surname */
    if (rc == 0 && gfl > 0 && (unsigned char)gfirst[0] < 0x80 && sl + 3 <= NAME_KEY_MAX) {
        key[0] = gfirst[0];
        key[1] = '.';
        key[2] = ' ';
        memcpy(key + 3, sur, sl);
        rc = add_key(&m->full, key, sl + 3);
        if (rc == 0)
            rc = add_key(&m->first, key, 1);
    }
    if (rc == 0)
        rc = add_key(&m->first, gfirst, gfl);
    if (rc == 0)
        rc = add_key(&m->first, sfirst, sfl);
    if (rc == 0)
        rc = add_key(&m->surname, sur, sl);
    if (rc == 0)
        rc = add_key(&m->sfirst, sfirst, sfl);
    if (rc == 0)
        rc = add_key(&m->given, given, gl);
    if (rc == 0 && g1 - g0 > 1)
        rc = add_key(&m->given, gfirst, gfl);
    return rc;
}

int tl_masker_add_name(tl_masker *m, const char *full_name, tl_err *err)
{
    if (!m || !full_name)
        return tl_err_set(err, TL_EINVAL, "tl_masker_add_name: masker or name is NULL");
    struct name_words w;
    int rc = split_name(full_name, &w, err);
    if (rc < 0)
        return rc;
    /* every key fits when all words and a separator each do: check before
     * adding anything, so a refused name leaves the masker unchanged */
    for (int mode = FOLD_STRIP; mode <= FOLD_GERMAN; mode++) {
        char key[NAME_KEY_MAX];
        size_t kl = 0;
        if (!key_words(full_name, &w, 0, w.n, (enum fold_mode)mode, key, &kl) || kl + 3 > NAME_KEY_MAX)
            return tl_err_set(err, TL_EINVAL, "customer name is too long once folded (%zu bytes)", kl);
    }
    for (int mode = FOLD_STRIP; mode <= (w.umlaut ? FOLD_GERMAN : FOLD_STRIP); mode++) {
        if (w.n == 1) {
            char key[NAME_KEY_MAX];
            size_t kl = 0;
            if (!key_words(full_name, &w, 0, 1, (enum fold_mode)mode, key, &kl))
                return tl_err_set(err, TL_EINVAL, "customer name is too long once folded");
            rc = add_key(&m->surname, key, kl);
            if (rc == 0)
                rc = add_key(&m->sfirst, key, kl);
        } else if (w.comma_after >= 0 && (size_t)w.comma_after + 1 < w.n) {
            size_t c = (size_t)w.comma_after + 1; /* "Surname, Given" */
            rc = add_split(m, full_name, &w, c, w.n, 0, c, (enum fold_mode)mode);
        } else {
            rc = add_split(m, full_name, &w, 0, 1, 1, w.n, (enum fold_mode)mode);
            /* "Hans Peter Schmidt", "José García López": the last word as the
             * surname too (not for "Bram van den Berg", whose particles say
             * where the surname starts) */
            if (rc == 0 && w.n >= 3 && w.caps)
                rc = add_split(m, full_name, &w, 0, w.n - 1, w.n - 1, w.n, (enum fold_mode)mode);
        }
        if (rc == TL_EINVAL)
            return tl_err_set(err, TL_EINVAL, "customer name is too long once folded");
        if (rc == TL_ETOOBIG)
            return tl_err_set(err, rc, "too many customer names for one masker (more than %zu keys)",
                              (size_t)HSET_MAX_ENTRIES);
        if (rc < 0)
            return tl_err_set(err, rc, "out of memory adding a customer name");
    }
    return 0;
}

/* Titles before a surname. */
static const struct word HONORIFICS[] = {
    W("mr"), W("mrs"), W("ms"), W("miss"), W("mx"), W("dr"), W("prof"), W("sir"), W("dame"), W("herr"),
    W("frau"), W("hr"), W("fr"), W("fam"), W("familie"), W("family"), W("mme"), W("mlle"),
    W("monsieur"), W("madame"), W("mademoiselle"), W("sr"), W("sra"), W("srta"), W("senor"),
    W("senora"), W("senorita"), W("signor"), W("signora"), W("signorina"), W("sig"), W("dott"),
    W("dhr"), W("mevr"), W("mevrouw"), W("meneer"), W("pan"), W("pani"), W("herrn"), {NULL, 0}};

static bool honorific_before(const struct kwtab *kw, const unsigned char *s, size_t len, size_t p)
{
    size_t q = p;
    int spaces = 0;
    while (q > 0 && spaces < 2) {
        if (s[q - 1] == ' ') {
            q--;
        } else if (q >= 2 && s[q - 2] == 0xc2 && s[q - 1] == 0xa0) {
            q -= 2;
        } else {
            break;
        }
        spaces++;
    }
    if (!spaces)
        return false;
    if (q > 0 && s[q - 1] == '.')
        q--;
    size_t we = q;
    size_t lo = p > 32 ? p - 32 : 0;
    while (q > lo && word_before(s, len, q))
        q = prev_start(s, len, q, lo);
    if (q == we || word_before(s, len, q))
        return false;
    char w[32];
    size_t wl = 0;
    bool fits;
    fold_word(s, len, q, FOLD_STRIP, w, &wl, sizeof w, &fits);
    return fits && (kw_bits(kw, w, wl) & KW_HONORIFIC);
}

/* Longest run of 1..max_words words from p whose key is in h. */
static size_t words_in_set(const unsigned char *s, size_t len, size_t p, const struct hset *h,
                           size_t max_words)
{
    char key[NAME_KEY_MAX];
    size_t kl = 0, q = p, best = 0;
    for (size_t w = 0; w < max_words; w++) {
        if (w > 0) {
            bool comma;
            size_t r = name_sep(s, len, q, &comma);
            if (r == q || comma || kl + 1 > NAME_KEY_MAX)
                break;
            key[kl++] = ' ';
            q = r;
        }
        bool fits;
        q = fold_word(s, len, q, FOLD_STRIP, key, &kl, NAME_KEY_MAX, &fits);
        if (!fits)
            break;
        if (hset_has(h, word_hash(key, kl)))
            best = q;
    }
    return best;
}

static size_t name_at(const tl_masker *m, const unsigned char *s, size_t len, size_t p)
{
    if (!m->full.n && !m->surname.n)
        return 0;
    if (s[p] < 0x80 && !is_alpha(s[p]))
        return 0;
    char key[NAME_KEY_MAX];
    size_t kl = 0, best = 0;
    bool fits;
    size_t q = fold_word(s, len, p, FOLD_STRIP, key, &kl, NAME_KEY_MAX, &fits);
    if (!fits)
        return 0;
    uint64_t h1 = word_hash(key, kl);
    if (hset_has(&m->first, h1)) {
        for (size_t w = 1; w < NAME_MAX_WORDS; w++) {
            bool comma;
            /* an initial keeps its dot in the key: "P. Jansen" -> "p. jansen" */
            size_t at = q;
            if (w == 1 && kl == 1 && q + 1 < len && s[q] == '.' && s[q + 1] == ' ') {
                key[kl++] = '.';
                at = q + 1;
            }
            size_t r = name_sep(s, len, at, &comma);
            if (r == at || kl + 2 > NAME_KEY_MAX)
                break;
            /* a middle initial is looked through: "Emily J. Smith" */
            if (!comma && r + 3 < len && is_alpha(s[r]) && s[r + 1] == '.' && s[r + 2] == ' ' &&
                word_at(s, len, r + 3))
                r += 3;
            if (comma)
                key[kl++] = ',';
            key[kl++] = ' ';
            q = fold_word(s, len, r, FOLD_STRIP, key, &kl, NAME_KEY_MAX, &fits);
            if (!fits)
                break;
            if (hset_has(&m->full, word_hash(key, kl)))
                best = q;
        }
    }
    if (best)
        return best;
    bool sur_first = hset_has(&m->sfirst, h1);
    if (sur_first && honorific_before(&m->kw, s, len, p))
        best = words_in_set(s, len, p, &m->surname, 4);
    if (!best && (m->options & TL_MASK_OPT_NAME_PARTS)) {
        best = words_in_set(s, len, p, &m->surname, 4);
        size_t g = words_in_set(s, len, p, &m->given, 3);
        if (g > best)
            best = g;
    }
    return best;
}

/* -------------------------------------------------------- addresses --- */

/* A word for the address rules: a run of word code points that may hold
 * inner hyphens and apostrophes ("Saint-Honoré", "l'Université"). */
struct aword {
    size_t s, e;
    char f[48]; /* folded, NUL-terminated */
    size_t fl;
    bool cap;   /* starts with an upper-case letter */
    bool alpha; /* starts with a letter */
};

static bool read_aword(const unsigned char *s, size_t len, size_t q, struct aword *w)
{
    if (!word_at(s, len, q))
        return false;
    size_t n;
    uint32_t cp = decode(s, len, q, &n);
    w->s = q;
    w->cap = cp_is_upper(cp);
    w->alpha = !(cp < 0x80 && !is_alpha(cp));
    w->fl = 0;
    for (;;) {
        bool fits;
        q = fold_word(s, len, q, FOLD_STRIP, w->f, &w->fl, sizeof w->f - 1, &fits);
        if (!fits)
            return false;
        if (q + 1 < len && (s[q] == '-' || s[q] == '\'') && word_at(s, len, q + 1)) {
            if (w->fl + 2 > sizeof w->f)
                return false;
            w->f[w->fl++] = s[q];
            q++;
            continue;
        }
        if (q + 3 < len && s[q] == 0xe2 && s[q + 1] == 0x80 && s[q + 2] == 0x99 && word_at(s, len, q + 3)) {
            if (w->fl + 2 > sizeof w->f)
                return false;
            w->f[w->fl++] = '\'';
            q += 3;
            continue;
        }
        break;
    }
    w->f[w->fl] = 0;
    w->e = q;
    return true;
}

/* One space (or no-break space) between address words. */
static size_t one_space(const unsigned char *s, size_t len, size_t q)
{
    if (q < len && s[q] == ' ')
        return q + 1;
    if (q + 1 < len && s[q] == 0xc2 && s[q + 1] == 0xa0)
        return q + 2;
    return q;
}

static const struct word STREET_SUFFIXES[] = {
    W("strasse"), W("weg"), W("allee"), W("platz"), W("gasse"), W("damm"), W("ufer"), W("chaussee"),
    W("gracht"), W("straat"), W("laan"), W("plein"), W("kade"), W("singel"), W("steenweg"),
    W("promenade"), {NULL, 0}};

static const struct word STREET_SUFFIXES_NL[] = {
    W("straat"), W("gracht"), W("laan"), W("plein"), W("kade"), W("singel"), {NULL, 0}};

/* Street words that follow an adjective or a name: "Linzer Straße". */
static const struct word STREET_WORDS_DE[] = {
    W("strasse"), W("str"), W("weg"), W("allee"), W("platz"), W("gasse"), W("damm"), W("ufer"),
    W("chaussee"), W("ring"), W("markt"), {NULL, 0}};

/* Street types after the name, in English addresses: "12 Baker Street". */
static const struct word STREET_WORDS_EN[] = {
    W("street"), W("st"), W("road"), W("rd"), W("avenue"), W("ave"), W("lane"), W("ln"), W("drive"),
    W("close"), W("way"), W("place"), W("square"), W("terrace"), W("crescent"), W("court"),
    W("gardens"), W("row"), W("walk"), W("parade"), W("boulevard"), W("blvd"), W("grove"), W("mews"),
    W("hill"), W("park"), {NULL, 0}};

/* Street types before the name. Strong ones make an address with a house
 * number alone; weak ones (ordinary words too) need the postal code. */
static const struct word STREET_PREFIX_STRONG[] = {
    W("rue"), W("avenue"), W("boulevard"), W("calle"), W("avenida"), W("via"), W("viale"), W("corso"),
    W("piazza"), W("piazzale"), W("ulica"), W("aleja"), W("carrer"), W("rua"), W("plaza"), W("paseo"),
    W("passeig"), W("rambla"), W("ronda"), W("vicolo"), W("largo"), W("travessera"), W("impasse"),
    W("chemin"), W("quai"), W("allee"), W("cours"), W("route"), {NULL, 0}};
static const struct word STREET_PREFIX_WEAK[] = {
    W("am"), W("an"), W("auf"), W("im"), W("in"), W("zum"), W("zur"), W("unter"), W("hinter"),
    W("gran"), W("al"), W("ul"), W("plac"), W("place"), W("bd"), {NULL, 0}};
/* Street types that are too common as words to start a street alone but
 * do after a house number: "5 Place Bellecour", "12 bd Voltaire". */
static const struct word NUMBER_FIRST_PREFIX[] = {
    W("place"), W("bd"), W("av"), {NULL, 0}};

/* Prefixes written in lower case in their languages. */
static const struct word STREET_PREFIX_LOWER_OK[] = {
    W("ulica"), W("aleja"), W("ul"), W("al"), W("plac"), {NULL, 0}};

static const struct word NAME_PARTICLES[] = {
    W("de"), W("del"), W("della"), W("delle"), W("dei"), W("degli"), W("di"), W("da"), W("do"),
    W("dos"), W("das"), W("du"), W("des"), W("la"), W("le"), W("les"), W("l"), W("van"), W("von"),
    W("der"), W("den"), W("het"), W("y"), W("e"), W("am"), W("im"), W("an"), W("sur"), W("sous"),
    W("st"), W("ob"), W("bei"), {NULL, 0}};

/* Words that are never part of a street name before its type word. */
static const struct word NOT_STREET_WORDS[] = {
    W("die"), W("der"), W("das"), W("den"), W("dem"), W("the"), W("in"), W("im"), W("am"), W("an"),
    W("auf"), W("zur"), W("zum"), W("von"), W("nach"), W("bei"), W("und"), W("and"), W("for"), W("to"),
    W("from"), W("by"), W("with"), W("mit"), W("uber"), W("at"), W("on"), W("of"), W("ich"), W("wir"),
    W("sie"), W("er"), W("es"), W("my"), W("our"), W("your"), W("new"), W("neue"), W("neuer"),
    W("adresse"), W("address"), W("adres"), W("anschrift"), W("wohnort"), W("wohnhaft"),
    W("lieferadresse"), W("rechnungsadresse"), W("indirizzo"), W("direccion"), W("domicilio"),
    W("kunde"), W("kundin"), W("customer"), W("client"), W("cliente"), W("klant"), W("alte"), W("old"),
    W("nieuwe"), W("nieuw"), {NULL, 0}};

/* House number: 1-4 digits, an optional letter, an optional "-12" or
 * "/12" range. Returns its end or 0. */
static size_t house_number(const unsigned char *s, size_t len, size_t q)
{
    size_t st = q;
    while (q < len && is_digit(s[q]) && q - st < 5)
        q++;
    if (q == st || q - st > 4 || s[st] == '0')
        return 0;
    if (q < len && is_alpha(s[q]) && !word_at(s, len, q + 1))
        q++;
    if (q + 1 < len && (s[q] == '-' || s[q] == '/') && is_digit(s[q + 1])) {
        size_t r = q + 1, r0 = r;
        while (r < len && is_digit(s[r]) && r - r0 < 5)
            r++;
        if (r - r0 <= 4) {
            q = r;
            if (q < len && is_alpha(s[q]) && !word_at(s, len, q + 1))
                q++;
        }
    }
    if (word_at(s, len, q))
        return 0;
    if (q + 1 < len && is_digit(s[q + 1]) && strchr(".,:", s[q]) && s[q])
        return 0;
    return q;
}

/* ", 10115 Berlin", " 1011 AB Amsterdam", ", 00-950 Warszawa", "Frankfurt
 * am Main": the postal code and the town after a house number. Returns
 * the end of the town, or q when there is none. */
enum postal_kind { POSTAL_NONE = 0, POSTAL_DIGITS = 1, POSTAL_NL = 2, POSTAL_PL = 3 };

static size_t postal_town(const struct kwtab *kw, const unsigned char *s, size_t len, size_t q,
                          bool lower_town, enum postal_kind *kind)
{
    *kind = POSTAL_NONE;
    size_t r = q;
    if (r < len && s[r] == ',')
        r++;
    r = one_space(s, len, r);
    if (r == q)
        return q;
    /* a country prefix: "D-10115", "CH-8001" */
    if (r + 3 < len && is_upper(s[r]) && s[r + 1] == '-' && is_digit(s[r + 2]))
        r += 2;
    else if (r + 4 < len && is_upper(s[r]) && is_upper(s[r + 1]) && s[r + 2] == '-' && is_digit(s[r + 3]))
        r += 3;
    size_t st = r;
    while (r < len && is_digit(s[r]) && r - st < 6)
        r++;
    size_t nd = r - st;
    if (nd == 2 && r + 4 <= len && s[r] == '-' && is_digit(s[r + 1]) && is_digit(s[r + 2]) &&
        is_digit(s[r + 3])) {
        r += 4; /* Polish NN-NNN */
        *kind = POSTAL_PL;
    } else if (nd == 4 && r + 3 <= len && s[r] == ' ' && is_upper(s[r + 1]) && is_upper(s[r + 2]) &&
               !word_at(s, len, r + 3)) {
        r += 3; /* Dutch NNNN AA */
        *kind = POSTAL_NL;
    } else if (nd == 4 || nd == 5) {
        *kind = POSTAL_DIGITS;
    } else {
        return q;
    }
    if (word_at(s, len, r)) {
        *kind = POSTAL_NONE;
        return q;
    }
    size_t postal_end = r;
    size_t t = one_space(s, len, r);
    struct aword w;
    if (t == r || !read_aword(s, len, t, &w) || !w.alpha || !(w.cap || lower_town))
        return postal_end;
    size_t end = w.e;
    for (int k = 0; k < 3; k++) { /* "Frankfurt am Main", "Freiburg im Breisgau" */
        size_t u = one_space(s, len, end);
        struct aword x;
        if (u == end || !read_aword(s, len, u, &x))
            break;
        if (x.cap && x.alpha) {
            end = x.e;
            continue;
        }
        if (!(kw_bits(kw, x.f, x.fl) & KW_PARTICLE))
            break;
        size_t v = one_space(s, len, x.e);
        struct aword y;
        if (v == x.e || !read_aword(s, len, v, &y) || !y.cap || !y.alpha)
            break;
        end = y.e;
        k++;
    }
    return end;
}

/* The name words of a street after a prefix ("de Rivoli", "Buenos Aires"):
 * capitalized words and particles, ending with a capitalized one. Returns
 * the end of the name or 0. */
static size_t street_name_words(const struct kwtab *kw, const unsigned char *s, size_t len, size_t q,
                                int max_words)
{
    size_t end = 0;
    for (int k = 0; k < max_words; k++) {
        size_t u = one_space(s, len, q);
        struct aword w;
        if (u == q || !read_aword(s, len, u, &w) || !w.alpha)
            break;
        if (w.cap)
            end = w.e;
        else if (!(kw_bits(kw, w.f, w.fl) & KW_PARTICLE))
            break;
        q = w.e;
    }
    return end;
}

/* How far after the start of a street its house number may be. */
#define ADDRESS_REACH_BYTES 160

/* The first digit at or after q that follows a space: where the next
 * house number could be (len when none). */
static size_t next_number_word(const unsigned char *s, size_t len, size_t q)
{
    if (q == 0)
        q = 1;
    while (q < len && !(is_digit(s[q]) && (s[q - 1] == ' ' || s[q - 1] == 0xa0)))
        q++;
    return q < len ? q : len;
}

/* Street first: "Hauptstraße 5", "Mariahilfer Straße 12a, 1060 Wien",
 * "Via Torino 5", "ulica Puławska 3, 02-345 Warszawa". */
static size_t address_street_first(const struct kwtab *kw, const unsigned char *s, size_t len, size_t p)
{
    struct aword w0;
    if (!read_aword(s, len, p, &w0) || !w0.alpha)
        return 0;
    size_t street_end = 0;
    bool weak = false;
    uint32_t b0 = kw_bits(kw, w0.f, w0.fl);
    bool lower_ok = b0 & KW_PREFIX_LOWER;
    bool strong_pre = b0 & KW_PREFIX_STRONG;
    bool weak_pre = b0 & KW_PREFIX_WEAK;
    if ((strong_pre || weak_pre) && (w0.cap || lower_ok)) {
        size_t q = w0.e;
        if (w0.e < len && s[w0.e] == '.') /* "ul.", "al.", "Bd." */
            q++;
        street_end = street_name_words(kw, s, len, q, 4);
        weak = !strong_pre;
    }
    bool lower = false;
    if (!street_end && !w0.cap) {
        /* typed in lower case ("lindenstraße 18, 10115 berlin"): one word
         * with a street suffix, and only with the postal code after it */
        if (ends_with_any(w0.f, w0.fl, STREET_SUFFIXES))
            street_end = w0.e;
        lower = street_end != 0;
    }
    if (!street_end && w0.cap && !(b0 & KW_NOT_STREET)) {
        /* A street-type word, or one to two words before it. German nouns
         * are capitalized too ("Wohnort Währinger Straße"), so the words
         * before must be adjectives in -er ("Mariahilfer Straße"), except
         * before Dutch types, which follow names ("Ferdinand Bolstraat"). */
        struct aword w = w0;
        bool adjectives = true;
        for (int k = 0; k < 3; k++) {
            bool dot = w.e < len && s[w.e] == '.';
            bool suffix = ends_with_any(w.f, w.fl, STREET_SUFFIXES);
            bool dutch = suffix && ends_with_any(w.f, w.fl, STREET_SUFFIXES_NL);
            if (!suffix && dot && ends_with(w.f, w.fl, "str") && w.fl > 3)
                suffix = true;
            if (k == 0 && suffix) {
                street_end = w.e + (dot ? 1 : 0);
                break;
            }
            if (k > 0 && w.cap && (suffix || (kw_bits(kw, w.f, w.fl) & KW_STREET_DE))) {
                if ((w.fl == 3 && memcmp(w.f, "str", 3) == 0 && !dot) || !(adjectives || dutch))
                    break;
                street_end = w.e + (dot ? 1 : 0);
                break;
            }
            adjectives = adjectives && ends_with(w.f, w.fl, "er");
            size_t u = one_space(s, len, w.e);
            if (u == w.e || !read_aword(s, len, u, &w) || !w.cap || (kw_bits(kw, w.f, w.fl) & KW_NOT_STREET))
                break;
        }
    }
    if (!street_end && w0.cap && !(b0 & KW_NOT_STREET)) {
        /* Dutch streets need no type word ("Overtoom 43"), and the Dutch
         * postcode (1234 AB) is distinctive enough to say it is one */
        size_t h = one_space(s, len, w0.e);
        size_t e = h > w0.e ? house_number(s, len, h) : 0;
        enum postal_kind pk;
        size_t t = e ? postal_town(kw, s, len, e, false, &pk) : 0;
        return e && pk == POSTAL_NL ? t : 0;
    }
    if (!street_end)
        return 0;
    size_t h = one_space(s, len, street_end);
    if (h == street_end)
        return 0;
    size_t e = house_number(s, len, h);
    if (!e)
        return 0;
    enum postal_kind pk;
    size_t t = postal_town(kw, s, len, e, lower, &pk);
    if ((weak || lower) && t == e)
        return 0;
    return t;
}

/* Number first: "12 Rue de Rivoli, 75001 Paris", "221b Baker Street". */
static size_t address_number_first(const struct kwtab *kw, const unsigned char *s, size_t len, size_t p)
{
    size_t e = house_number(s, len, p);
    if (!e)
        return 0;
    size_t q = e;
    if (q < len && s[q] == ',')
        q++;
    size_t u = one_space(s, len, q);
    struct aword w;
    if (u == q || !read_aword(s, len, u, &w) || !w.alpha)
        return 0;
    size_t street_end = 0;
    if (kw_bits(kw, w.f, w.fl) & (KW_PREFIX_STRONG | KW_NUMBER_FIRST)) {
        size_t r = w.e < len && s[w.e] == '.' ? w.e + 1 : w.e;
        street_end = street_name_words(kw, s, len, r, 4);
    } else if (w.cap) {
        for (int k = 0; k < 3 && !street_end; k++) {
            size_t v = one_space(s, len, w.e);
            struct aword x;
            if (v == w.e || !read_aword(s, len, v, &x) || !x.cap)
                break;
            if (kw_bits(kw, x.f, x.fl) & KW_STREET_EN)
                street_end = x.e < len && s[x.e] == '.' ? x.e + 1 : x.e;
            w = x;
        }
    }
    if (!street_end)
        return 0;
    enum postal_kind pk;
    return postal_town(kw, s, len, street_end, false, &pk);
}

static const struct {
    const struct word *list;
    uint32_t bit;
} KW_LISTS[] = {
    {CTX_NEUTRAL, KW_NEUTRAL},
    {CTX_PHONE_YES, KW_PHONE_YES},
    {CTX_ID_YES, KW_ID_YES},
    {CTX_NO, KW_NO},
    {UNITS_AFTER, KW_UNIT},
    {CTX_SSN_YES, KW_SSN_YES},
    {HONORIFICS, KW_HONORIFIC},
    {STREET_WORDS_DE, KW_STREET_DE},
    {STREET_WORDS_EN, KW_STREET_EN},
    {STREET_PREFIX_STRONG, KW_PREFIX_STRONG},
    {STREET_PREFIX_WEAK, KW_PREFIX_WEAK},
    {NUMBER_FIRST_PREFIX, KW_NUMBER_FIRST},
    {STREET_PREFIX_LOWER_OK, KW_PREFIX_LOWER},
    {NAME_PARTICLES, KW_PARTICLE},
    {NOT_STREET_WORDS, KW_NOT_STREET},
};

static int kw_build(struct kwtab *kw)
{
    size_t n = 0;
    for (size_t l = 0; l < sizeof KW_LISTS / sizeof KW_LISTS[0]; l++)
        for (const struct word *w = KW_LISTS[l].list; w->s; w++)
            n++;
    kw->cap = 64;
    while (kw->cap < 4 * n)
        kw->cap *= 2;
    kw->keys = calloc(kw->cap, sizeof *kw->keys);
    kw->bits = calloc(kw->cap, sizeof *kw->bits);
    if (!kw->keys || !kw->bits)
        return TL_ENOMEM;
    for (size_t l = 0; l < sizeof KW_LISTS / sizeof KW_LISTS[0]; l++) {
        for (const struct word *w = KW_LISTS[l].list; w->s; w++) {
            uint64_t h = word_hash(w->s, w->n);
            size_t i = h & (kw->cap - 1);
            while (kw->keys[i] && kw->keys[i] != h)
                i = (i + 1) & (kw->cap - 1);
            kw->keys[i] = h;
            kw->bits[i] |= KW_LISTS[l].bit;
        }
    }
    return 0;
}

/* ------------------------------------------------------------- find --- */

struct cand {
    size_t end;
    enum tl_mask_kind kind;
};

static inline void consider(struct cand *c, size_t end, enum tl_mask_kind kind)
{
    if (end > c->end) {
        c->end = end;
        c->kind = kind;
    }
}

int tl_masker_find(const tl_masker *m, const char *in, size_t len, tl_mask_span_fn fn, void *ud,
                   tl_err *err)
{
    if (!m || !fn || (!in && len))
        return tl_err_set(err, TL_EINVAL, "tl_masker_find: masker, input or callback is NULL");
    const unsigned char *s = (const unsigned char *)in;
    const struct kwtab *kw = &m->kw;
    struct email_cursor ec = {0};
    email_next(&ec, s, len, 0);
    /* the next possible house number, kept ahead of p as p moves on, so
     * the street rules only run where one is near */
    size_t next_number = next_number_word(s, len, 0);
    size_t p = 0;
    while (p < len) {
        email_sync(&ec, s, len, p);
        if (next_number <= p)
            next_number = next_number_word(s, len, p + 1);
        unsigned char c = s[p];
        struct cand best = {0, TL_MASK_CARD};
        /* A card or an IBAN that fails its check is still one number: none
         * of its groups may start a phone or an id of its own. */
        size_t shape_end = 0;
        if (ec.have && ec.start == p)
            consider(&best, ec.end, TL_MASK_EMAIL);
        if (!word_before(s, len, p)) {
            if (is_digit(c)) {
                if (num_left_ok(s, len, p)) {
                    consider(&best, card_at(s, len, p, &shape_end), TL_MASK_CARD);
                    consider(&best, ssn_at(kw, s, len, p), TL_MASK_NATIONAL_ID);
                    consider(&best, taxid_at(kw, s, len, p), TL_MASK_NATIONAL_ID);
                    consider(&best, pps_at(s, len, p), TL_MASK_NATIONAL_ID);
                    consider(&best, dni_at(s, len, p), TL_MASK_NATIONAL_ID);
                    if (c == '0')
                        consider(&best, phone_at(kw, s, len, p), TL_MASK_PHONE);
                }
                consider(&best, address_number_first(kw, s, len, p), TL_MASK_ADDRESS);
            } else if (c == '+' || c == '(') {
                consider(&best, phone_at(kw, s, len, p), TL_MASK_PHONE);
                if (c == '(')
                    consider(&best, nanp_at(s, len, p), TL_MASK_PHONE);
            } else if (is_alpha(c) || (c >= 0x80 && word_at(s, len, p))) {
                if (is_alpha(c)) {
                    consider(&best, iban_at(s, len, p, &shape_end), TL_MASK_IBAN);
                    consider(&best, cf_at(s, len, p), TL_MASK_NATIONAL_ID);
                    consider(&best, nino_at(s, len, p), TL_MASK_NATIONAL_ID);
                    if (c == 'X' || c == 'Y' || c == 'Z')
                        consider(&best, dni_at(s, len, p), TL_MASK_NATIONAL_ID);
                }
                consider(&best, name_at(m, s, len, p), TL_MASK_NAME);
                /* a street needs its house number within a few words */
                if (next_number - p < ADDRESS_REACH_BYTES)
                    consider(&best, address_street_first(kw, s, len, p), TL_MASK_ADDRESS);
            }
        }
        if (best.end) {
            struct tl_mask_span sp = {p, best.end, best.kind};
            if (fn(ud, &sp))
                return 0;
            p = best.end;
            continue;
        }
        if (shape_end > p) {
            p = ec.have && ec.start > p && ec.start < shape_end ? ec.start : shape_end;
            continue;
        }
        if (word_at(s, len, p)) {
            /* the rest of this word cannot start anything but an email */
            size_t q = p;
            while (q < len) {
                if (s[q] < 0x80) {
                    if (!is_alnum(s[q]) && s[q] != '_')
                        break;
                    q++;
                    continue;
                }
                size_t n;
                if (!cp_is_word(decode(s, len, q, &n)))
                    break;
                q += n;
            }
            if (ec.have && ec.start > p && ec.start < q)
                q = ec.start;
            p = q;
        } else {
            size_t n;
            decode(s, len, p, &n);
            p += n;
        }
    }
    return 0;
}

/* ------------------------------------------------------------- mask --- */

struct mask_state {
    const char *in;
    size_t last; /* input copied up to here */
    char *buf;
    size_t len, cap;
    bool oom;
    struct tl_mask_stats *st;
};

static bool buf_put(struct mask_state *ms, const char *p, size_t n)
{
    if (ms->len + n + 1 > ms->cap) {
        size_t cap = ms->cap;
        while (ms->len + n + 1 > cap)
            cap = cap / 2 * 3 + 64;
        char *b = realloc(ms->buf, cap);
        if (!b) {
            ms->oom = true;
            return false;
        }
        ms->buf = b;
        ms->cap = cap;
    }
    memcpy(ms->buf + ms->len, p, n);
    ms->len += n;
    return true;
}

static int on_mask_span(void *ud, const struct tl_mask_span *sp)
{
    struct mask_state *ms = ud;
    const char *ph = PLACEHOLDERS[sp->kind];
    if (!buf_put(ms, ms->in + ms->last, sp->start - ms->last) || !buf_put(ms, ph, strlen(ph)))
        return 1;
    ms->last = sp->end;
    if (ms->st) {
        ms->st->n_spans++;
        ms->st->n_by_kind[sp->kind]++;
    }
    return 0;
}

int tl_masker_mask(const tl_masker *m, const char *in, size_t len, char **out, size_t *out_len,
                   struct tl_mask_stats *st, tl_err *err)
{
    if (!m || !out || (!in && len))
        return tl_err_set(err, TL_EINVAL, "tl_masker_mask: masker, input or output is NULL");
    if (len > TL_MASK_MAX_INPUT_BYTES)
        return tl_err_set(err, TL_ETOOBIG, "text of %zu bytes is larger than the %zu bytes a masker takes",
                          len, TL_MASK_MAX_INPUT_BYTES);
    struct tl_mask_stats local = {0};
    struct mask_state ms = {.in = in, .st = &local};
    ms.cap = len + len / 8 + 64;
    ms.buf = malloc(ms.cap);
    if (!ms.buf)
        return tl_err_set(err, TL_ENOMEM, "out of memory masking %zu bytes", len);
    int rc = tl_masker_find(m, in ? in : "", len, on_mask_span, &ms, err);
    if (rc == 0 && !ms.oom)
        buf_put(&ms, in ? in + ms.last : "", len - ms.last);
    if (rc == 0 && ms.oom)
        rc = tl_err_set(err, TL_ENOMEM, "out of memory masking %zu bytes", len);
    if (rc < 0) {
        free(ms.buf);
        return rc;
    }
    ms.buf[ms.len] = 0;
    *out = ms.buf;
    if (out_len)
        *out_len = ms.len;
    if (st)
        *st = local;
    return 0;
}

/* Masking into a fixed buffer: copying stops for good at the first piece
 * that does not fit, so what is written is always a prefix of the masked
 * text and never a piece of a span. */
struct buf_state {
    const char *in;
    size_t last;
    char *out;
    size_t o, cap; /* cap excludes the NUL */
    bool full;
};

static void bput_text(struct buf_state *bs, const char *p, size_t n)
{
    if (bs->full)
        return;
    if (bs->o + n > bs->cap) {
        n = bs->cap - bs->o;
        while (n > 0 && ((unsigned char)p[n] & 0xc0) == 0x80) /* keep whole UTF-8 sequences */
            n--;
        bs->full = true;
    }
    memcpy(bs->out + bs->o, p, n);
    bs->o += n;
}

static int on_buf_span(void *ud, const struct tl_mask_span *sp)
{
    struct buf_state *bs = ud;
    bput_text(bs, bs->in + bs->last, sp->start - bs->last);
    const char *ph = PLACEHOLDERS[sp->kind];
    size_t n = strlen(ph);
    if (!bs->full && bs->o + n <= bs->cap) {
        memcpy(bs->out + bs->o, ph, n);
        bs->o += n;
    } else {
        bs->full = true;
    }
    bs->last = sp->end;
    return bs->full;
}

size_t tl_masker_mask_buf(const tl_masker *m, const char *in, size_t len, char *out, size_t out_size)
{
    if (!out || out_size == 0)
        return 0;
    out[0] = 0;
    if (!m || (!in && len))
        return 0;
    struct buf_state bs = {.in = in, .out = out, .cap = out_size - 1};
    if (tl_masker_find(m, in ? in : "", len, on_buf_span, &bs, NULL) < 0)
        return 0;
    if (!bs.full)
        bput_text(&bs, (in ? in : "") + bs.last, len - bs.last);
    out[bs.o] = 0;
    return bs.o;
}

size_t tl_masker_log_filter(void *ud, const char *msg, size_t len, char *out, size_t out_size)
{
    return tl_masker_mask_buf(ud, msg, len, out, out_size);
}

/* ------------------------------------------------------------ store --- */

struct load_state {
    tl_masker *m;
    tl_keyring *kr;
    size_t n_added;
    int rc;
    tl_err *err;
};

static int on_customer(void *ud, size_t n_cols, const tl_value *cols, const char *const *names)
{
    struct load_state *ls = ud;
    if (n_cols < 2 || cols[1].type != TL_VAL_TEXT || cols[1].len == 0)
        return 0;
    const char *id = cols[0].type == TL_VAL_TEXT ? cols[0].s : "?";
    char *plain = NULL;
    size_t plain_len = 0;
    const char *name = cols[1].s;
    if (tl_keyring_is_sealed(cols[1].s, cols[1].len)) {
        if (!ls->kr) {
            ls->rc = tl_err_set(ls->err, TL_ECRYPTO,
                                "customer %s: the name is sealed and the context has no keyring", id);
            return 1;
        }
        tl_err e = {0};
        int rc = tl_keyring_unseal(ls->kr, "customers.name", cols[1].s, cols[1].len, &plain, &plain_len, &e);
        if (rc < 0) {
            ls->rc = tl_err_set(ls->err, rc, "customer %s: cannot open the sealed name: %s", id, e.msg);
            return 1;
        }
        name = plain;
    }
    tl_err e = {0};
    int rc = tl_masker_add_name(ls->m, name, &e);
    if (plain) {
        sodium_memzero(plain, plain_len);
        free(plain);
    }
    if (rc == TL_EINVAL) /* a name with no letters cannot appear in text as a name */
        return 0;
    if (rc < 0) {
        ls->rc = tl_err_set(ls->err, rc, "customer %s: %s", id, e.msg);
        return 1;
    }
    ls->n_added++;
    return 0;
}

int tl_masker_load_customers(tl_masker *m, tl_ctx *ctx, size_t *n_added, tl_err *err)
{
    if (!m || !ctx)
        return tl_err_set(err, TL_EINVAL, "tl_masker_load_customers: masker or context is NULL");
    tl_store *store = tl_ctx_store(ctx);
    if (!store)
        return tl_err_set(err, TL_EINVAL, "the context has no store to load customer names from");
    struct load_state ls = {.m = m, .kr = tl_ctx_keyring(ctx), .err = err};
    int rc = tl_store_exec(store, "SELECT id, name FROM customers WHERE erased_ms IS NULL", 0, NULL,
                           on_customer, &ls, err);
    if (rc < 0) {
        if (err)
            tl_err_prefix(err, "loading customer names for masking");
        return rc;
    }
    if (ls.rc < 0)
        return ls.rc;
    if (n_added)
        *n_added = ls.n_added;
    return 0;
}
