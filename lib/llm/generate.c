/*
 * generate.c - the generation loop: prefill the prompt, then sample and
 * decode one token at a time, streaming text.
 *
 * Text goes through two stages before the callback sees it. A UTF-8
 * assembler joins the bytes of tokens that split a character (byte-fallback
 * tokens, byte-level BPE) and turns invalid bytes into U+FFFD, so the
 * callback only ever gets complete characters. Then a hold-back buffer keeps
 * any tail that could be the start of a stop string until the next token
 * settles it, so a stop string is never partly emitted.
 */
#include "llm_internal.h"

#include <stdlib.h>
#include <string.h>

#include <teller/llm_tokenizer.h>

typedef struct streamer {
    tl_llm_text_fn fn;
    void *ud;
    const char *const *stop;
    size_t n_stop, max_stop;
    unsigned char pend[4]; /* an incomplete UTF-8 sequence */
    int pend_len, pend_need;
    char *held;            /* text not yet given to fn */
    size_t held_len, held_cap;
    bool stopped_string, stopped_cb;
} streamer;

static int held_put(streamer *st, const void *p, size_t n)
{
    if (st->held_len + n > st->held_cap) {
        size_t cap = st->held_cap * 2;
        while (cap < st->held_len + n)
            cap *= 2;
        char *h = realloc(st->held, cap);
        if (!h)
            return TL_ENOMEM;
        st->held = h;
        st->held_cap = cap;
    }
    memcpy(st->held + st->held_len, p, n);
    st->held_len += n;
    return 0;
}

static int put_fffd(streamer *st) { return held_put(st, "\xEF\xBF\xBD", 3); }

/* Whether c may follow the first i bytes of the pending sequence. */
static bool cont_ok(const streamer *st, unsigned char c)
{
    if (st->pend_len == 1) {
        switch (st->pend[0]) {
        case 0xE0: return c >= 0xA0 && c <= 0xBF;
        case 0xED: return c >= 0x80 && c <= 0x9F;
        case 0xF0: return c >= 0x90 && c <= 0xBF;
        case 0xF4: return c >= 0x80 && c <= 0x8F;
        default: break;
        }
    }
    return c >= 0x80 && c <= 0xBF;
}

/* Feeds bytes through the UTF-8 assembler into held. */
static int utf8_feed(streamer *st, const unsigned char *s, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = s[i];
        if (st->pend_len > 0) {
            if (cont_ok(st, c)) {
                st->pend[st->pend_len++] = c;
                if (st->pend_len == st->pend_need) {
                    rc = held_put(st, st->pend, (size_t)st->pend_len);
                    st->pend_len = 0;
                }
                continue;
            }
            st->pend_len = 0;
            if ((rc = put_fffd(st)) < 0)
                break;
        }
        if (c < 0x80) {
            rc = held_put(st, &c, 1);
        } else {
            int need = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                                                 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
            if (need == 0) {
                rc = put_fffd(st);
            } else {
                st->pend[0] = c;
                st->pend_len = 1;
                st->pend_need = need;
            }
        }
    }
    return rc;
}

static int emit(streamer *st, size_t n)
{
    if (n == 0 || st->stopped_cb)
        return 0;
    if (st->fn && st->fn(st->held, n, st->ud) != 0)
        st->stopped_cb = true;
    memmove(st->held, st->held + n, st->held_len - n);
    st->held_len -= n;
    return 0;
}

/* Gives the callback what can no longer be part of a stop string; on a
 * stop string, gives it the text before and marks the stream stopped. */
static void settle(streamer *st, bool final)
{
    size_t first = SIZE_MAX;
    for (size_t k = 0; k < st->n_stop; k++) {
        const char *hit = memmem(st->held, st->held_len, st->stop[k], strlen(st->stop[k]));
        if (hit && (size_t)(hit - st->held) < first)
            first = (size_t)(hit - st->held);
    }
    if (first != SIZE_MAX) {
        emit(st, first);
        st->held_len = 0;
        st->stopped_string = true;
        return;
    }
    size_t keep = 0;
    if (!final) {
        for (size_t k = 0; k < st->n_stop; k++) {
            size_t sl = strlen(st->stop[k]);
            for (size_t j = sl - 1 < st->held_len ? sl - 1 : st->held_len; j > keep; j--) {
                if (memcmp(st->held + st->held_len - j, st->stop[k], j) == 0) {
                    keep = j;
                    break;
                }
            }
        }
    }
    emit(st, st->held_len - keep);
}

int tl__llm_stream_test(const char *const *chunks, size_t n_chunks, const char *const *stop,
                        size_t n_stop, tl_llm_text_fn fn, void *ud, bool *stopped)
{
    streamer st = {.fn = fn, .ud = ud, .stop = stop, .n_stop = n_stop, .held_cap = 16};
    st.held = malloc(st.held_cap);
    if (!st.held)
        return TL_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < n_chunks && rc == 0 && !st.stopped_string && !st.stopped_cb; i++) {
        rc = utf8_feed(&st, (const unsigned char *)chunks[i], strlen(chunks[i]));
        if (rc == 0)
            settle(&st, false);
    }
    if (rc == 0 && !st.stopped_string && !st.stopped_cb) {
        if (st.pend_len > 0) {
            st.pend_len = 0;
            rc = put_fffd(&st);
        }
        if (rc == 0)
            settle(&st, true);
    }
    *stopped = st.stopped_string;
    free(st.held);
    return rc;
}

static int32_t *grow_ids(int32_t *a, size_t need, size_t *cap)
{
    if (need <= *cap)
        return a;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    int32_t *b = realloc(a, c * sizeof *b);
    if (b)
        *cap = c;
    return b;
}

int tl_llm_generate(tl_llm_session *s, const int32_t *prompt, size_t n,
                    const tl_llm_gen_params *p, tl_llm_text_fn on_text, void *ud,
                    tl_llm_gen_stats *stats, tl_err *err)
{
    if (stats)
        *stats = (tl_llm_gen_stats){0};
    if (!s || !p || (!prompt && n))
        return tl_err_set(err, TL_EINVAL, "generate: session and parameters are required");
    if (n == 0)
        return tl_err_set(err, TL_EINVAL, "generate: the prompt is empty (a prompt holds at "
                                          "least one token, such as BOS)");
    if (n > (size_t)(s->n_ctx - s->pos))
        return tl_err_set(err, TL_ETOOBIG,
                          "generate: the prompt of %zu tokens does not fit in the context of %d "
                          "positions (%d already held)",
                          n, s->n_ctx, s->pos);
    const tl_tokenizer *tok = s->m->tok;
    size_t max_stop = 0;
    for (size_t k = 0; k < p->n_stop; k++) {
        if (!p->stop || !p->stop[k] || !p->stop[k][0])
            return tl_err_set(err, TL_EINVAL, "generate: stop string %zu is empty", k);
        size_t l = strlen(p->stop[k]);
        max_stop = l > max_stop ? l : max_stop;
    }
    if (p->n_stop && !tok)
        return tl_err_set(err, TL_EINVAL,
                          "generate: stop strings need a tokenizer, and the model has none");

    tl_llm_sampler *smp = NULL;
    int rc = tl_llm_sampler_new(&p->sampler, s->m->n_vocab, &smp, err);
    if (rc < 0)
        return rc;
    /* The token history (for the repetition penalty) and the text buffers
     * are sized once here; the loop allocates only if a token's piece is
     * longer than anything seen (rare). */
    size_t hist_cap = 0;
    int32_t *hist = grow_ids(NULL, n + 256, &hist_cap);
    streamer st = {.fn = on_text, .ud = ud, .stop = p->stop, .n_stop = p->n_stop,
                   .max_stop = max_stop, .held_cap = 1024 + max_stop};
    st.held = malloc(st.held_cap);
    size_t piece_cap = 256;
    char *piece = malloc(piece_cap);
    if (!hist || !st.held || !piece) {
        rc = tl_err_set(err, TL_ENOMEM, "generate: out of memory");
        goto done;
    }
    memcpy(hist, prompt, n * sizeof *hist);
    size_t n_hist = n;
    bool spm = tok && strcmp(tl_tok_model_name(tok), "llama") == 0;
    int32_t bos = tok ? tl_tok_bos(tok) : -1;

    double t0 = tl__llm_now();
    float *logits = NULL;
    rc = tl_llm_decode(s, prompt, n, &logits, err);
    if (rc < 0)
        goto done;
    double t1 = tl__llm_now();
    int stop = TL_LLM_STOP_MAX_TOKENS;
    size_t n_gen = 0;
    for (;;) {
        int32_t id = tl_llm_sample(smp, logits, hist, n_hist);
        if (!(hist = grow_ids(hist, n_hist + 1, &hist_cap))) {
            rc = tl_err_set(err, TL_ENOMEM, "generate: out of memory");
            goto done;
        }
        int32_t prev = hist[n_hist - 1];
        hist[n_hist++] = id;
        if (p->ids_out && n_gen < p->ids_cap)
            p->ids_out[n_gen] = id;
        n_gen++;
        if (!p->ignore_eog && tok && tl_tok_is_eog(tok, id)) {
            stop = TL_LLM_STOP_EOG;
            break;
        }
        if (tok) {
            int len = tl_tok_piece(tok, id, false, piece, piece_cap);
            if (len > (int)piece_cap) {
                char *np = realloc(piece, (size_t)len);
                if (!np) {
                    rc = tl_err_set(err, TL_ENOMEM, "generate: out of memory");
                    goto done;
                }
                piece = np;
                piece_cap = (size_t)len;
                len = tl_tok_piece(tok, id, false, piece, piece_cap);
            }
            if (len > 0) {
                const char *pc = piece;
                /* SentencePiece: the space the encoder put before the first
                 * word is not part of the text (run.c and llama.cpp drop it). */
                if (spm && prev == bos && pc[0] == ' ') {
                    pc++;
                    len--;
                }
                if (utf8_feed(&st, (const unsigned char *)pc, (size_t)len) < 0) {
                    rc = tl_err_set(err, TL_ENOMEM, "generate: out of memory");
                    goto done;
                }
                settle(&st, false);
            }
            if (st.stopped_cb) {
                stop = TL_LLM_STOP_CALLBACK;
                break;
            }
            if (st.stopped_string) {
                stop = TL_LLM_STOP_STRING;
                break;
            }
        }
        if (p->max_tokens > 0 && n_gen >= (size_t)p->max_tokens) {
            stop = TL_LLM_STOP_MAX_TOKENS;
            break;
        }
        if (s->pos >= s->n_ctx) {
            stop = TL_LLM_STOP_CONTEXT;
            break;
        }
        rc = tl_llm_decode(s, &id, 1, &logits, err);
        if (rc < 0)
            goto done;
    }
    if (stop != TL_LLM_STOP_STRING && stop != TL_LLM_STOP_CALLBACK) {
        if (st.pend_len > 0) {
            st.pend_len = 0;
            if (put_fffd(&st) < 0) {
                rc = tl_err_set(err, TL_ENOMEM, "generate: out of memory");
                goto done;
            }
        }
        settle(&st, true);
        if (st.stopped_string)
            stop = TL_LLM_STOP_STRING;
        else if (st.stopped_cb)
            stop = TL_LLM_STOP_CALLBACK;
    }
    if (stats) {
        stats->n_prompt = n;
        stats->n_gen = n_gen;
        stats->prefill_s = t1 - t0;
        stats->decode_s = tl__llm_now() - t1;
        stats->stop = stop;
    }
done:
    tl_llm_sampler_free(smp);
    free(hist);
    free(st.held);
    free(piece);
    return rc;
}
