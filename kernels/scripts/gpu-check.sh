#!/usr/bin/env bash
# GPU check for the CUDA backend, on a machine with an NVIDIA GPU (H200-class) and nvcc:
#   1. builds kernels (the cuda-ptx profile compiles the PTX) and runs the GPU tests
#      (CudaKernelParityTest, CudaLayerSequenceTest, CudaErrorsTest, PtxBuildTest, BackendsTest);
#   2. times torch.matmul in bf16 on the grouped-GEMM shapes (skipped, with a note, without torch);
#   3. runs CudaBench: grouped expert GEMM vs torch, decode attention vs cuMemcpyDtoD bandwidth;
#   4. a decode step of the `small` preset through `bin/shuttle bench engine --device cuda`, when
#      the CLI has --device (serving-pod wiring), else a note.
# Prints one table at the end. Every step has a timeout; the whole fits in 10 minutes.
# Usage: kernels/scripts/gpu-check.sh            (from anywhere; MVN_ARGS adds Maven flags, e.g. -o)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
# shellcheck source=../../bin/jdk.sh
. "$root/bin/jdk.sh"
shuttle_find_jdk
export MAVEN_OPTS="${MAVEN_OPTS:---sun-misc-unsafe-memory-access=allow}"
suffix=-gpu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mvn_args=(-B -q "-Dshuttle.build.suffix=$suffix" ${MVN_ARGS:-})

echo "== nvidia-smi"
timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "(nvidia-smi unavailable)"

echo "== build kernels and run the GPU tests"
if ! command -v nvcc >/dev/null && [ ! -x /usr/local/bin/nvcc ] && [ ! -x /usr/local/cuda/bin/nvcc ]; then
  echo "warning: no nvcc found: the PTX will not be built and the GPU tests will fail to load kernels" >&2
fi
test_status=passed
if ! timeout 300 ./mvnw "${mvn_args[@]}" -pl kernels -am install \
      -Dtest='PtxBuildTest,BackendsTest,CudaEncodingTest,CudaKernelParityTest,CudaLayerSequenceTest,CudaErrorsTest' \
      -Dsurefire.failIfNoSpecifiedTests=false; then
  test_status=FAILED
fi
reports=kernels/target$suffix/surefire-reports
if [ -d "$reports" ]; then
  grep -h "Tests run" "$reports"/*.txt || true
  # A skipped GPU test here means the GPU was not usable: say so loudly.
  if grep -l "skipped, no GPU" "$reports"/*.xml >/dev/null 2>&1; then
    echo "warning: GPU tests were skipped (no usable GPU): see $reports" >&2
    test_status="SKIPPED (no GPU)"
  fi
fi

echo "== torch.matmul reference"
torch_file="$work/torch.csv"
: > "$torch_file"
torch_note="torch.matmul: measured"
if timeout 180 python3 - "$torch_file" <<'PY'
import sys
try:
    import torch
except ImportError:
    print("torch is not installed: the GEMM rows have no reference"); sys.exit(3)
if not torch.cuda.is_available():
    print("torch has no CUDA device"); sys.exit(3)
experts, hidden, ffn = 8, 4096, 14336
out = open(sys.argv[1], "w")
w = [torch.rand(ffn, hidden, device="cuda", dtype=torch.bfloat16) * 2 - 1 for _ in range(experts)]
for t in (16, 128, 512):
    a = [torch.rand(t, hidden, device="cuda", dtype=torch.bfloat16) * 2 - 1 for _ in range(experts)]
    def step():
        for e in range(experts):
            torch.matmul(a[e], w[e].t())
    step(); torch.cuda.synchronize()
    times = []
    for _ in range(10):
        s, e_ = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record(); step(); e_.record(); torch.cuda.synchronize()
        times.append(s.elapsed_time(e_))
    times.sort()
    out.write(f"gemm,{t},{times[len(times) // 2]:.4f}\n")
    print(f"torch.matmul bf16, {experts} experts x {t} tokens: {times[len(times) // 2]:.3f} ms")
out.close()
PY
then :; else torch_note="torch.matmul: not measured (see above)"; fi

echo "== CudaBench"
cp_file="$work/cp.txt"
timeout 120 ./mvnw "${mvn_args[@]}" -pl kernels dependency:build-classpath -Dmdep.outputFile="$cp_file" >/dev/null
bench_out="$work/bench.txt"
bench_status=ran
if ! timeout 240 "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -Djava.io.tmpdir="$work" \
      -cp "kernels/target$suffix/classes:$(cat "$cp_file")" io.shuttle.kernels.cuda.CudaBench --torch "$torch_file" \
      | tee "$bench_out"; then
  bench_status=FAILED
fi

echo "== decode step of the small preset"
engine_row="| decode step, small preset | - | - | - | - | - | not run: bin/shuttle bench engine has no --device option yet (serving-pod wiring) |"
if bin/shuttle bench engine --help 2>/dev/null | grep -q -- "--device"; then
  timeout 120 bin/shuttle model init --preset small --seed 1 --out "$work/small" >/dev/null
  if timeout 180 bin/shuttle bench engine --model "$work/small" --batch 1,8,32 --tokens 32 --device cuda \
        | tee "$work/engine.txt"; then
    engine_row="| decode step, small preset | see output above | | | | | bin/shuttle bench engine --device cuda |"
  else
    engine_row="| decode step, small preset | FAILED | | | | | see output above |"
  fi
fi

echo
echo "== summary"
echo "GPU tests: $test_status; CudaBench: $bench_status; $torch_note"
grep '^|' "$bench_out" 2>/dev/null || echo "| (CudaBench printed no table) |"
echo "$engine_row"
[ "$test_status" = passed ] && [ "$bench_status" = ran ]
