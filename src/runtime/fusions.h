/* Prepare-time fusions (fusions.c): before a node is prepared the runtime offers its kernel the
 * patterns of neighbouring ops it may absorb (node->fusion); after prepare, the ops of the offers the
 * kernel took are skipped. */
#ifndef P2L_RUNTIME_FUSIONS_H
#define P2L_RUNTIME_FUSIONS_H

#include "runtime/interpreter.h"

/* What each offer would absorb: per kind of offer, the nodes skipped if the kernel takes it. */
enum { P2L_OFFER_UNPADDED, P2L_OFFER_EPILOGUE, P2L_OFFER_KINDS };
typedef struct p2l_fusion_offers {
    int absorbed[P2L_OFFER_KINDS][P2L_FUSION_MAX_ABSORBED]; /* node indices, -1 for none */
} p2l_fusion_offers;

/* Clears node o's fusion and offers what the table's patterns match (nothing with no_fusion). */
void p2l_fusions_offer(p2l_graph *g, int o, p2l_fusion_offers *offers);
/* After node o's prepare: skips the nodes of the offers taken, withdraws the others. */
void p2l_fusions_apply(p2l_graph *g, int o, const p2l_fusion_offers *offers);

#endif
