/*
 * segment.h - customer segments that explain themselves: k-means++ on
 * standardized profile features (profile.h), k chosen by silhouette (or
 * fixed), each segment described in words by the features that set it
 * apart most from the population.
 *
 *     struct tl_segment_opts o = {.seed = 42};          // k chosen in 2..8
 *     json_t *res;
 *     if (tl_segment_fit(ctx, &o, &res, &err) < 0) ...
 *     // res: {"model":"segments-v1","k":4,"silhouette":0.21,
 *     //       "segments":[{"id":0,"size":812,"description":"high spend on travel, ..."},...]}
 *     tl_segment_list(ctx, NULL, &res, &err);            // the champion's, as stored
 *
 * The features, per customer: income (log), monthly spending (log), savings
 * rate, liquid balance (log), debt (log), tenure, age, distinct product
 * categories held, whether a savings, investment, credit card, loan,
 * mortgage or insurance product is held, each spending category's share of
 * spending, and each channel's share of transactions. Each is standardized
 * to z-scores over the customers (a constant feature is dropped); a
 * segment's description names the three features whose segment mean lies
 * furthest from the population mean in standard deviations, e.g. "high
 * spend on travel (18% of spending vs 6%), income above the average (3,950
 * vs 2,600 a month), no savings product (4% hold one vs 38%)".
 *
 * A fit is a model in the registry (task "segments", algo "kmeans"; the
 * artifact holds the features, the standardization and the centroids), its
 * segments rows in `segments`, and each customer's segment in its profile
 * row; the new model is promoted to champion. Deterministic for a seed and
 * a store.
 */
#ifndef TELLER_SEGMENT_H
#define TELLER_SEGMENT_H

#include <jansson.h>

#include "common.h"
#include "ctx.h"
#include "err.h"

TL_BEGIN_DECLS

struct tl_segment_opts {
    int k;                    /* 0: chosen by silhouette over k_min..k_max; else 2..TL_SEGMENT_MAX_K */
    int k_min, k_max;         /* 0: 2 and 8 */
    uint64_t seed;            /* k-means++ seeding and the silhouette sample */
    size_t silhouette_sample; /* 0: 2000 rows (the silhouette is O(n^2)) */
    const char *actor;        /* for the registry's journal; NULL: "teller" */
};

#define TL_SEGMENT_MAX_K 16

/* Refreshes every profile, fits the segmentation, stores it (model,
 * segments, each customer's segment) and promotes it. *out (new reference):
 * {"model","k","chosen_by":"silhouette"|"fixed","silhouette",
 *  "silhouette_by_k":{"2":s,...},"customers","features":[names],
 *  "segments":[{"id","size","share","description",
 *               "top":[{"feature","z","segment_mean","population_mean","text"}]}]}
 * Segment ids run from 0 in decreasing size. TL_EINVAL for k out of range
 * or fewer customers than 2 * k (naming them); on error nothing is stored
 * and *out is untouched. */
TL_API int tl_segment_fit(tl_ctx *ctx, const struct tl_segment_opts *opts, json_t **out,
                          tl_err *err);

/* The stored segments of model_id (NULL: the champion of "segments"):
 * {"model","created","k","silhouette","customers","segments":[...]} as
 * tl_segment_fit gave them. TL_ENOTFOUND when no segmentation was fitted. */
TL_API int tl_segment_list(tl_ctx *ctx, const char *model_id, json_t **out, tl_err *err);

/* The segment the champion model gives a customer's current profile (for a
 * customer who joined after the fit), without storing it: *segment and the
 * model id. TL_ENOTFOUND without a champion or for an unknown customer. */
TL_API int tl_segment_assign(tl_ctx *ctx, const char *customer_id, int *segment,
                             char model_id[64], tl_err *err);

TL_END_DECLS

#endif
