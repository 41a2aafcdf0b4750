/* kernels/mask.h: fixed random connectivity masks (dense and conv with
 * density < 1). (A template: dlrt_kernels.h includes it once per precision.)
 *
 *   sparse_mask   mask[i] = 1 for exactly `keep` of the `count` weights, else 0:
 *                 selection sampling (Knuth's Algorithm S) driven by
 *                 splitmix64 from `seed`: weight i (in row-major order) is
 *                 kept iff splitmix64() % (count - i) < keep - kept so far.
 *                 The twin (emit_torch.c's sparse_mask) runs the same
 *                 integer arithmetic, so both draw the same mask.
 *   mask_select   out[i] = mask[i] != 0 ? w[i] : 0   (out may be w: in place)
 *
 * A select, not a multiply: a masked weight's gradient is exactly 0 even
 * when the unmasked gradient is NaN or infinite.
 */

static inline void KERNEL(sparse_mask)(real *mask, long count, long keep, uint64_t seed)
{
    uint64_t s = seed;
    long need = keep;
    for (long i = 0; i < count; i++) {
        uint64_t z = (s += UINT64_C(0x9E3779B97F4A7C15));
        z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
        z ^= z >> 31;
        int take = need > 0 && z % (uint64_t)(count - i) < (uint64_t)need;
        mask[i] = take ? 1 : 0;
        need -= take;
    }
}

static inline void KERNEL(mask_select)(real *out, const real *w, const real *mask, long count)
{
    for (long i = 0; i < count; i++)
        out[i] = mask[i] != 0 ? w[i] : 0;
}
