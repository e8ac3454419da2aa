package io.shuttle.kernels.cpu;

import io.shuttle.kernels.Backend;
import io.shuttle.kernels.DType;
import io.shuttle.kernels.PagedAttentionMeta;
import io.shuttle.kernels.Tensor;
import io.shuttle.kernels.scalar.ScalarBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static io.shuttle.kernels.Fixtures.assertClose;
import static io.shuttle.kernels.Fixtures.assertSameBits;
import static io.shuttle.kernels.Fixtures.assertSameInts;
import static io.shuttle.kernels.Fixtures.copyOf;
import static io.shuttle.kernels.Fixtures.ints;
import static io.shuttle.kernels.Fixtures.random;
import static io.shuttle.kernels.Fixtures.shuffledBlocks;

/**
 * Every CpuBackend operation against the ScalarBackend oracle on seeded random inputs, with one
 * thread (everything inline) and with three (uneven static splits, the parallel paths). Sizes
 * are odd on purpose: k not a multiple of the vector length, row counts not multiples of the
 * 4-row register tiles, k larger than the GEMM's k-block.
 */
class CpuBackendParityTest {

    private static ScalarBackend oracle;
    private static CpuBackend[] cpus;

    @BeforeAll
    static void start() {
        oracle = new ScalarBackend();
        cpus = new CpuBackend[] {new CpuBackend(1), new CpuBackend(3)};
    }

    @AfterAll
    static void stop() {
        oracle.close();
        for (CpuBackend cpu : cpus) {
            cpu.close();
        }
    }

    /** The f32 sum-order difference grows like √k; 1e-6 per √k, relative to 1 + |value|. */
    private static double dotTolerance(long k) {
        return 1e-6 * Math.sqrt(k) + 1e-6;
    }

    @Test
    void matmulAllWeightTypesAndOddSizes() {
        Random rnd = new Random(1);
        // k a multiple of the vector width takes the direct (unpacked) kernel for up to 8 rows;
        // 2,048 is two k chunks (the second accumulates), 37 rows leave a partial 4-row group.
        int[][] mk = {{13, 37}, {70, 100}, {9, 1100}, {300, 200}, {37, 64}, {70, 2048}};
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            for (int[] s : mk) {
                for (int n : new int[] {1, 3, 5, 8, 9, 17, 64}) {
                    int m = s[0], k = s[1];
                    Tensor x = random(oracle, rnd, DType.F32, 1f, n, k);
                    Tensor w = random(oracle, rnd, dt, 1f, m, k);
                    Tensor expected = oracle.allocate(DType.F32, n, m);
                    oracle.matmul(x, w, expected);
                    for (CpuBackend cpu : cpus) {
                        Tensor out = cpu.allocate(DType.F32, n, m);
                        cpu.matmul(copyOf(cpu, x), cpu.prepareWeight(copyOf(cpu, w)), out);
                        assertClose(expected, out, dotTolerance(k),
                                "matmul " + dt + " n=" + n + " m=" + m + " k=" + k + " on " + cpu.name());
                    }
                }
            }
        }
    }

    @Test
    void matmulManyMatchesSeparateMatmulsOfTheOracle() {
        Random rnd = new Random(11);
        // Q/K/V-like (rows not multiples of the 4-row tile or the 64-row chunk), then mixed dtypes
        // (F16 and n > 1 take the per-matrix GEMM path), k odd and k above the GEMM k-block.
        int[][] rowsPerMatrix = {{70, 37, 37}, {5, 130, 3, 64}, {1}};
        for (DType dt : new DType[] {DType.BF16, DType.F32, DType.F16}) {
            for (int[] rows : rowsPerMatrix) {
                for (int k : new int[] {100, 37, 1100}) {
                    for (int n : new int[] {1, 3}) {
                        Tensor x = random(oracle, rnd, DType.F32, 1f, n, k);
                        Tensor[] w = new Tensor[rows.length];
                        Tensor[] expected = new Tensor[rows.length];
                        for (int j = 0; j < rows.length; j++) {
                            DType wt = j == 1 && rows.length > 2 ? DType.F32 : dt;
                            w[j] = random(oracle, rnd, wt, 1f, rows[j], k);
                            expected[j] = oracle.allocate(DType.F32, n, rows[j]);
                            oracle.matmul(x, w[j], expected[j]);
                        }
                        for (CpuBackend cpu : cpus) {
                            Tensor[] cw = new Tensor[rows.length];
                            Tensor[] out = new Tensor[rows.length];
                            for (int j = 0; j < rows.length; j++) {
                                cw[j] = cpu.prepareWeight(copyOf(cpu, w[j]));
                                out[j] = random(cpu, rnd, DType.F32, 100f, n, rows[j]); // dirty: must be overwritten
                            }
                            cpu.matmulMany(copyOf(cpu, x), cw, out);
                            for (int j = 0; j < rows.length; j++) {
                                assertClose(expected[j], out[j], dotTolerance(k), "matmulMany " + dt + " matrix " + j
                                        + " of " + java.util.Arrays.toString(rows) + " n=" + n + " k=" + k + " on " + cpu.name());
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void packedBf16MatmulMatchesTheOracle() {
        Random rnd = new Random(21);
        int g = PackedBf16.GROUP;
        // One whole group, a group and one output (a masked last group), several groups; k of 1,
        // odd (the last pair half empty), and past one k chunk (the second chunk accumulates).
        int[][] mk = {{g, 37}, {g + 1, 100}, {3 * g + 5, 64}, {g, 1}, {2 * g - 3, 2}, {g + 7, 2 * 2 * MatmulPacked.KC_PAIRS + 3},
                {g + MatmulPacked.HALF, 51}, {2 * g + MatmulPacked.HALF - 1, 2}};
        for (int[] s : mk) {
            int m = s[0], k = s[1];
            for (int n : new int[] {1, 3, 4, 5, 8, 9, 17, 64}) {
                if (k > 1000 && n > 9) {
                    continue; // the scalar oracle is slow at this size; 1-9 rows cover every path
                }
                Tensor x = random(oracle, rnd, DType.F32, 1f, n, k);
                Tensor w = random(oracle, rnd, DType.BF16, 1f, m, k);
                Tensor expected = oracle.allocate(DType.F32, n, m);
                oracle.matmul(x, w, expected);
                for (CpuBackend cpu : cpus) {
                    Tensor packed = cpu.prepareLinear(copyOf(cpu, w));
                    org.junit.jupiter.api.Assertions.assertTrue(packed.isPacked(), "BF16 " + m + "x" + k + " is packed");
                    Tensor out = random(cpu, rnd, DType.F32, 100f, n, m); // dirty: must be overwritten
                    cpu.matmul(copyOf(cpu, x), packed, out);
                    assertClose(expected, out, dotTolerance(k),
                            "packed matmul n=" + n + " m=" + m + " k=" + k + " on " + cpu.name());
                }
            }
        }
    }

    /**
     * A last group with at most two panels of outputs runs the two-panel kernels; its outputs
     * must be the bits the four-panel kernels give for the same weights inside a whole group.
     */
    @Test
    void packedMatmulOfAHalfGroupHasTheBitsOfTheWholeGroup() {
        Random rnd = new Random(24);
        int g = PackedBf16.GROUP;
        for (int k : new int[] {1, 2, 77, 130}) {
            Tensor whole = random(oracle, rnd, DType.BF16, 1f, 2 * g, k);
            for (int m : new int[] {g + MatmulPacked.HALF, g + 17, g + 1}) {
                Tensor part = oracle.allocate(DType.BF16, m, k);
                part.data().copyFrom(whole.rows(0, m).data());
                for (int n : new int[] {1, 2, 3, 4, 7, 9}) {
                    Tensor x = random(oracle, rnd, DType.F32, 1f, n, k);
                    for (CpuBackend cpu : cpus) {
                        Tensor xs = copyOf(cpu, x);
                        Tensor wholeOut = cpu.allocate(DType.F32, n, 2 * g);
                        cpu.matmul(xs, cpu.prepareLinear(copyOf(cpu, whole)), wholeOut);
                        Tensor partOut = cpu.allocate(DType.F32, n, m);
                        cpu.matmul(xs, cpu.prepareLinear(copyOf(cpu, part)), partOut);
                        for (int r = 0; r < n; r++) {
                            for (int c = 0; c < m; c++) {
                                float a = wholeOut.getFloat((long) r * 2 * g + c);
                                float b = partOut.getFloat((long) r * m + c);
                                org.junit.jupiter.api.Assertions.assertEquals(Float.floatToRawIntBits(a), Float.floatToRawIntBits(b),
                                        "m=" + m + " k=" + k + " n=" + n + " row " + r + " output " + c + " on " + cpu.name()
                                                + ": " + b + " against " + a + " inside a whole group");
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void packedMatmulManyMixesWithRowMajorWeights() {
        Random rnd = new Random(22);
        int g = PackedBf16.GROUP;
        int k = 70;
        int[] rows = {g + 3, 8, 2 * g, 5}; // 8 and 5 outputs stay row-major (less than a group)
        for (int n : new int[] {1, 6}) {
            Tensor x = random(oracle, rnd, DType.F32, 1f, n, k);
            Tensor[] w = new Tensor[rows.length];
            Tensor[] expected = new Tensor[rows.length];
            for (int j = 0; j < rows.length; j++) {
                w[j] = random(oracle, rnd, DType.BF16, 1f, rows[j], k);
                expected[j] = oracle.allocate(DType.F32, n, rows[j]);
                oracle.matmul(x, w[j], expected[j]);
            }
            for (CpuBackend cpu : cpus) {
                Tensor[] cw = new Tensor[rows.length];
                Tensor[] out = new Tensor[rows.length];
                for (int j = 0; j < rows.length; j++) {
                    cw[j] = cpu.prepareLinear(copyOf(cpu, w[j]));
                    out[j] = random(cpu, rnd, DType.F32, 100f, n, rows[j]);
                }
                org.junit.jupiter.api.Assertions.assertFalse(cw[1].isPacked(), "8 outputs stay row-major");
                cpu.matmulMany(copyOf(cpu, x), cw, out);
                Tensor[] packedOnly = {cw[0], cw[2]};
                Tensor[] packedOut = {cpu.allocate(DType.F32, n, rows[0]), cpu.allocate(DType.F32, n, rows[2])};
                cpu.matmulMany(copyOf(cpu, x), packedOnly, packedOut);
                for (int j = 0; j < rows.length; j++) {
                    assertClose(expected[j], out[j], dotTolerance(k), "mixed matmulMany matrix " + j + " n=" + n
                            + " on " + cpu.name());
                }
                assertSameBits(out[0], packedOut[0], "packed-only call, matrix 0, n=" + n);
                assertSameBits(out[2], packedOut[1], "packed-only call, matrix 2, n=" + n);
            }
        }
    }

    /**
     * A row's result must not depend on its batch: the pipeline checks that a disaggregated
     * cluster, whose micro-batches split the batch differently, reproduces the monolithic engine.
     */
    @Test
    void packedMatmulRowIsTheSameAloneAndInEveryBlockPosition() {
        Random rnd = new Random(23);
        int m = PackedBf16.GROUP * 2 + 9;
        int k = 301;
        Tensor x = random(oracle, rnd, DType.F32, 1f, 11, k);
        Tensor w = random(oracle, rnd, DType.BF16, 1f, m, k);
        for (CpuBackend cpu : cpus) {
            Tensor packed = cpu.prepareLinear(copyOf(cpu, w));
            Tensor xs = copyOf(cpu, x);
            Tensor all = cpu.allocate(DType.F32, 11, m);
            cpu.matmul(xs, packed, all);
            for (int r = 0; r < 11; r++) {
                Tensor one = cpu.allocate(DType.F32, 1, m);
                cpu.matmul(xs.rows(r, r + 1), packed, one);
                assertSameBits(all.rows(r, r + 1), one, "row " + r + " alone vs in a batch of 11 on " + cpu.name());
            }
        }
    }

    @Test
    void packedWeightIsRefusedOutsideMatmul() {
        CpuBackend cpu = cpus[0];
        Tensor packed = cpu.prepareLinear(random(cpu, new Random(24), DType.BF16, 1f, PackedBf16.GROUP, 16));
        Tensor x = cpu.allocate(DType.F32, 2, 16);
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> cpu.rmsNorm(x, packed, 1e-5f, x));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("packed for matmul"), e.getMessage());
        IllegalStateException rows = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> packed.rows(0, 1));
        org.junit.jupiter.api.Assertions.assertTrue(rows.getMessage().contains("only matmul reads it"), rows.getMessage());
        org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> packed.getFloat(0));
    }

    @Test
    void packedMatmulOfNoRowsWritesNothing() {
        for (CpuBackend cpu : cpus) {
            Tensor packed = cpu.prepareLinear(random(cpu, new Random(25), DType.BF16, 1f, PackedBf16.GROUP, 16));
            cpu.matmul(cpu.allocate(DType.F32, 0, 16), packed, cpu.allocate(DType.F32, 0, PackedBf16.GROUP));
            cpu.matmulMany(cpu.allocate(DType.F32, 0, 16), new Tensor[] {packed},
                    new Tensor[] {cpu.allocate(DType.F32, 0, PackedBf16.GROUP)});
        }
    }

    @Test
    void matmulOverwritesPreviousOutput() {
        Random rnd = new Random(2);
        Tensor x = random(oracle, rnd, DType.F32, 1f, 5, 1100);
        Tensor w = random(oracle, rnd, DType.BF16, 1f, 6, 1100);
        Tensor expected = oracle.allocate(DType.F32, 5, 6);
        oracle.matmul(x, w, expected);
        for (CpuBackend cpu : cpus) {
            Tensor out = random(cpu, rnd, DType.F32, 100f, 5, 6);
            cpu.matmul(copyOf(cpu, x), copyOf(cpu, w), out);
            assertClose(expected, out, dotTolerance(1100), "matmul into a dirty buffer on " + cpu.name());
        }
    }

    @Test
    void rmsNormAddSiluMul() {
        Random rnd = new Random(3);
        int[][] shapes = {{1, 37}, {5, 1000}, {40, 1003}};
        for (int[] s : shapes) {
            Tensor x = random(oracle, rnd, DType.F32, 3f, s[0], s[1]);
            Tensor y = random(oracle, rnd, DType.F32, 3f, s[0], s[1]);
            for (DType wt : new DType[] {DType.F32, DType.BF16}) {
                Tensor weight = random(oracle, rnd, wt, 2f, s[1]);
                Tensor expected = oracle.allocate(DType.F32, s[0], s[1]);
                oracle.rmsNorm(x, weight, 1e-5f, expected);
                for (CpuBackend cpu : cpus) {
                    Tensor inPlace = copyOf(cpu, x);
                    cpu.rmsNorm(inPlace, copyOf(cpu, weight), 1e-5f, inPlace);
                    assertClose(expected, inPlace, 1e-5, "rmsNorm " + wt + " " + s[0] + "x" + s[1] + " on " + cpu.name());
                }
            }
            Tensor sum = oracle.allocate(DType.F32, s[0], s[1]);
            oracle.add(x, y, sum);
            Tensor swiglu = oracle.allocate(DType.F32, s[0], s[1]);
            oracle.siluMul(x, y, swiglu);
            for (CpuBackend cpu : cpus) {
                Tensor a = copyOf(cpu, x);
                Tensor b = copyOf(cpu, y);
                Tensor out = cpu.allocate(DType.F32, s[0], s[1]);
                cpu.add(a, b, out);
                assertClose(sum, out, 1e-7, "add on " + cpu.name());
                cpu.siluMul(a, b, b); // aliasing up
                assertClose(swiglu, b, 2e-6, "siluMul on " + cpu.name());
            }
        }
    }

    @Test
    void embeddingConvertsEveryBf16AndF16PatternExactly() {
        for (DType dt : new DType[] {DType.BF16, DType.F16}) {
            Tensor table = oracle.allocate(dt, 2048, 32);
            for (int i = 0; i < 65536; i++) {
                table.data().setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, i, (short) i);
            }
            int[] ids = new int[2048];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = i;
            }
            for (CpuBackend cpu : cpus) {
                Tensor out = cpu.allocate(DType.F32, 2048, 32);
                cpu.embedding(copyOf(cpu, table), ints(cpu, ids, 2048), out);
                for (int i = 0; i < 65536; i++) {
                    float expected = dt == DType.BF16 ? Float.intBitsToFloat(i << 16) : Float.float16ToFloat((short) i);
                    float actual = out.getFloat(i);
                    boolean same = Float.isNaN(expected)
                            ? Float.isNaN(actual)
                            : Float.floatToRawIntBits(expected) == Float.floatToRawIntBits(actual);
                    if (!same) {
                        throw new AssertionError(dt + " pattern 0x" + Integer.toHexString(i) + ": expected " + expected
                                + " but was " + actual + " on " + cpu.name());
                    }
                }
            }
        }
    }

    @Test
    void embeddingOddWidthsAndRepeatedIds() {
        Random rnd = new Random(4);
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            Tensor table = random(oracle, rnd, dt, 1f, 50, 1030);
            Tensor ids = ints(oracle, new int[] {49, 0, 7, 7, 13, 2, 31, 49, 1, 0, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
                21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34}, 34);
            Tensor expected = oracle.allocate(DType.F32, 34, 1030);
            oracle.embedding(table, ids, expected);
            for (CpuBackend cpu : cpus) {
                Tensor out = cpu.allocate(DType.F32, 34, 1030);
                cpu.embedding(copyOf(cpu, table), copyOf(cpu, ids), out);
                assertSameBits(expected, out, "embedding " + dt + " on " + cpu.name());
            }
        }
    }

    @Test
    void rope() {
        Random rnd = new Random(5);
        int[][] cases = {{4, 64}, {3, 6}, {8, 128}};
        for (int[] c : cases) {
            int heads = c[0], headDim = c[1], n = 37;
            Tensor x = random(oracle, rnd, DType.F32, 1f, n, (long) heads * headDim);
            int[] pos = new int[n];
            for (int i = 0; i < n; i++) {
                pos[i] = i < 3 ? i : rnd.nextInt(5000);
            }
            Tensor positions = ints(oracle, pos, n);
            Tensor expected = copyOf(oracle, x);
            oracle.rope(expected, positions, heads, headDim, 1e6f);
            for (CpuBackend cpu : cpus) {
                Tensor actual = copyOf(cpu, x);
                cpu.rope(actual, copyOf(cpu, positions), heads, headDim, 1e6f);
                assertClose(expected, actual, 1e-6, "rope heads=" + heads + " headDim=" + headDim + " on " + cpu.name());
            }
        }
    }

    @Test
    void writeKvAndGatherScatterRows() {
        Random rnd = new Random(6);
        Tensor k = random(oracle, rnd, DType.F32, 1f, 5, 72);
        Tensor v = random(oracle, rnd, DType.F32, 1f, 5, 72);
        Tensor slots = ints(oracle, new int[] {17, 3, 0, 31, 8}, 5);
        Tensor kc = oracle.allocate(DType.F32, 32, 72);
        Tensor vc = oracle.allocate(DType.F32, 32, 72);
        oracle.writeKv(k, v, kc, vc, slots);
        Tensor src = random(oracle, rnd, DType.F32, 1f, 40, 1001);
        Tensor index = ints(oracle, shuffledBlocks(rnd, 40), 40);
        Tensor scale = random(oracle, rnd, DType.F32, 1f, 40);
        Tensor gathered = oracle.allocate(DType.F32, 40, 1001);
        oracle.gatherRows(src, index, gathered);
        Tensor base = random(oracle, rnd, DType.F32, 1f, 50, 1001);
        Tensor scattered = copyOf(oracle, base);
        oracle.scatterAddRows(src, index, scale, scattered);
        for (CpuBackend cpu : cpus) {
            Tensor kc2 = cpu.allocate(DType.F32, 32, 72);
            Tensor vc2 = cpu.allocate(DType.F32, 32, 72);
            cpu.writeKv(copyOf(cpu, k), copyOf(cpu, v), kc2, vc2, copyOf(cpu, slots));
            assertSameBits(kc, kc2, "writeKv k on " + cpu.name());
            assertSameBits(vc, vc2, "writeKv v on " + cpu.name());
            Tensor g = cpu.allocate(DType.F32, 40, 1001);
            cpu.gatherRows(copyOf(cpu, src), copyOf(cpu, index), g);
            assertSameBits(gathered, g, "gatherRows on " + cpu.name());
            Tensor s = copyOf(cpu, base);
            cpu.scatterAddRows(copyOf(cpu, src), copyOf(cpu, index), copyOf(cpu, scale), s);
            assertClose(scattered, s, 1e-6, "scatterAddRows on " + cpu.name());
        }
    }

    @Test
    void routerTopKPicksTheSameExperts() {
        Random rnd = new Random(7);
        int[][] cases = {{37, 8, 2}, {5, 60, 4}, {3, 8, 8}, {2, 1, 1}};
        for (int[] c : cases) {
            int n = c[0], experts = c[1], k = c[2];
            Tensor logits = random(oracle, rnd, DType.F32, 4f, n, experts);
            Tensor ids = oracle.allocate(DType.I32, n, k);
            Tensor weights = oracle.allocate(DType.F32, n, k);
            oracle.routerTopK(logits, k, ids, weights);
            for (CpuBackend cpu : cpus) {
                Tensor ids2 = cpu.allocate(DType.I32, n, k);
                Tensor weights2 = cpu.allocate(DType.F32, n, k);
                cpu.routerTopK(copyOf(cpu, logits), k, ids2, weights2);
                assertSameInts(ids, ids2, "routerTopK ids " + n + "x" + experts + " k=" + k + " on " + cpu.name());
                assertSameBits(weights, weights2, "routerTopK weights on " + cpu.name());
            }
        }
    }

    @Test
    void pagedAttentionGqaAndMhaOverScatteredBlocks() {
        attentionCase(new Random(8), 8, 2, 40, 4);   // GQA, headDim with a scalar tail, small blocks
        attentionCase(new Random(9), 4, 4, 64, 16);  // MHA, one vector of scores per block
        attentionCase(new Random(10), 6, 1, 16, 5);  // multi-query, odd block size
        attentionCase(new Random(11), 6, 2, 24, 3);  // odd group (a head pair and a single head), vector + tail
        attentionCase(new Random(12), 8, 4, 64, 16); // the small model's decode shape
        attentionCase(new Random(13), 4, 2, 64, 5);  // heads of four vectors on AVX-512 (registers-held path), odd block size
        attentionCase(new Random(14), 6, 2, 32, 16); // heads of four vectors on AVX2, a head pair and a single head
        attentionCase(new Random(15), 6, 2, 64, 7);  // heads of eight vectors on AVX2 (one at a time in registers), pair and single, odd blocks
        attentionCase(new Random(16), 6, 2, 128, 16); // heads of eight vectors on AVX-512 (Mixtral's 128)
    }

    private void attentionCase(Random rnd, int numHeads, int numKvHeads, int headDim, int blockSize) {
        int[] lengths = {1, 7, 23, 40};
        int maxBlocks = (40 + blockSize - 1) / blockSize + 1;
        int numBlocks = lengths.length * maxBlocks;
        int[] pool = shuffledBlocks(rnd, numBlocks);
        int[] table = new int[lengths.length * maxBlocks];
        for (int s = 0; s < lengths.length; s++) {
            for (int b = 0; b < maxBlocks; b++) {
                table[s * maxBlocks + b] = pool[s * maxBlocks + b];
            }
        }
        // Decode rows for every sequence, then the whole prefill of sequence 2 (positions 0..22).
        int n = lengths.length + lengths[2];
        int[] seq = new int[n];
        int[] pos = new int[n];
        for (int s = 0; s < lengths.length; s++) {
            seq[s] = s;
            pos[s] = lengths[s] - 1;
        }
        for (int p = 0; p < lengths[2]; p++) {
            seq[lengths.length + p] = 2;
            pos[lengths.length + p] = p;
        }
        long kvDim = (long) numKvHeads * headDim;
        Tensor kc = random(oracle, rnd, DType.F32, 1f, (long) numBlocks * blockSize, kvDim);
        Tensor vc = random(oracle, rnd, DType.F32, 1f, (long) numBlocks * blockSize, kvDim);
        Tensor q = random(oracle, rnd, DType.F32, 2f, n, (long) numHeads * headDim);
        Tensor expected = oracle.allocate(DType.F32, n, (long) numHeads * headDim);
        PagedAttentionMeta meta = meta(oracle, table, lengths.length, maxBlocks, blockSize, seq, pos);
        oracle.pagedAttention(q, kc, vc, meta, numHeads, numKvHeads, headDim, expected);
        for (CpuBackend cpu : cpus) {
            Tensor out = cpu.allocate(DType.F32, n, (long) numHeads * headDim);
            cpu.pagedAttention(copyOf(cpu, q), copyOf(cpu, kc), copyOf(cpu, vc),
                    meta(cpu, table, lengths.length, maxBlocks, blockSize, seq, pos), numHeads, numKvHeads, headDim, out);
            assertClose(expected, out, 2e-6, "pagedAttention heads=" + numHeads + "/" + numKvHeads + " headDim="
                    + headDim + " blockSize=" + blockSize + " on " + cpu.name());
            // A row alone is cut into one unit per KV head, in a batch it is one unit: same bits.
            for (int r : new int[] {0, 3, n - 1}) {
                Tensor one = cpu.allocate(DType.F32, 1, (long) numHeads * headDim);
                cpu.pagedAttention(copyOf(cpu, q).rows(r, r + 1), copyOf(cpu, kc), copyOf(cpu, vc),
                        meta(cpu, table, lengths.length, maxBlocks, blockSize, new int[] {seq[r]}, new int[] {pos[r]}),
                        numHeads, numKvHeads, headDim, one);
                assertSameBits(out.rows(r, r + 1), one, "pagedAttention row " + r + " alone vs in a batch of " + n
                        + ", heads=" + numHeads + "/" + numKvHeads + " headDim=" + headDim + " on " + cpu.name());
            }
        }
    }

    private static PagedAttentionMeta meta(Backend be, int[] table, int seqs, int maxBlocks, int blockSize,
                                           int[] seq, int[] pos) {
        return new PagedAttentionMeta(ints(be, table, seqs, maxBlocks), blockSize, ints(be, seq, seq.length),
                ints(be, pos, pos.length));
    }
}
