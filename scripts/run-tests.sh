#!/usr/bin/env bash
# Runs the CTest suite of a configured and built tree, then the fuzz smoke test when
# scripts/fuzz-smoke.sh exists, then the unit tests again in the sanitizer (fuzz) build.
# It ends with one summary line "tests: N passed, N failed, N skipped". There the fuzz
# smoke test counts as one test and the sanitizer run as another.
#
# Usage: scripts/run-tests.sh [BUILD_DIR]   (default: build)
# Environment: FUZZ_SECONDS (default 60; 0 skips the fuzz smoke test),
#              CTEST_ARGS (extra ctest arguments, e.g. "-R engine").
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(realpath -m "${1:-$root/build}")
fuzz_seconds=${FUZZ_SECONDS:-60}

if [ ! -f "$build/CTestTestfile.cmake" ]; then
  echo "run-tests: error: $build is not a configured build folder; run 'make build' first" >&2
  exit 1
fi

junit=$build/ctest-results.xml
rm -f "$junit"
# shellcheck disable=SC2086 # CTEST_ARGS is a list of arguments.
(cd "$build" && ctest --output-on-failure --output-junit "$junit" ${CTEST_ARGS:-})
ctest_status=$?

# CTest's JUnit report carries the counts; skipped tests (exit code 77) count as skipped.
suite=$(tr '\n\t' '  ' < "$junit" 2>/dev/null | grep -o '<testsuite [^>]*>' | head -n 1)
count_attribute() {
  sed -n "s/.*[[:space:]]$1=\"\([0-9]*\)\".*/\1/p" <<< "$suite"
}
total=$(count_attribute tests)
failed=$(count_attribute failures)
skipped=$(count_attribute skipped)
if [ -z "$total" ] || [ -z "$failed" ] || [ -z "$skipped" ]; then
  echo "run-tests: error: no test counts in $junit" >&2
  total=0 failed=0 skipped=0
  [ "$ctest_status" -eq 0 ] && ctest_status=1
fi
passed=$((total - failed - skipped))

fuzz_status=0
fuzz_note=
if [ "$fuzz_seconds" -gt 0 ] && [ -x "$root/scripts/fuzz-smoke.sh" ]; then
  echo "run-tests: fuzz smoke test, $fuzz_seconds s"
  "$root/scripts/fuzz-smoke.sh" "$build/fuzz" "$fuzz_seconds"
  fuzz_status=$?
  if [ "$fuzz_status" -eq 0 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    fuzz_note=" (the fuzz smoke test failed with exit code $fuzz_status)"
  fi
elif [ "$fuzz_seconds" -gt 0 ]; then
  echo "run-tests: scripts/fuzz-smoke.sh not found: no fuzz smoke test"
fi

# The fuzz build is an AddressSanitizer + UndefinedBehaviorSanitizer build of the whole
# library, so the unit tests of the engine, the loader and the decoders run there too.
sanitize_status=0
sanitize_note=
sanitize_tests=(test_graph test_onnx_load test_ops_plain test_kernels test_engine
  test_engine_models test_image test_eval)
if [ "$fuzz_seconds" -gt 0 ] && [ -f "$build/fuzz/CTestTestfile.cmake" ]; then
  echo "run-tests: the same unit tests under AddressSanitizer and UndefinedBehaviorSanitizer"
  mkdir -p "$build/fuzz/test-work"
  rm -rf "$build/fuzz/test-work/oracle"
  [ -d "$build/test-work/oracle" ] && ln -s "$build/test-work/oracle" "$build/fuzz/test-work/oracle"
  sanitize_regex="^($(IFS='|'; echo "${sanitize_tests[*]}"))$"
  if cmake --build "$build/fuzz" -j 2 --target "${sanitize_tests[@]}" >/dev/null &&
     (cd "$build/fuzz" && ctest --output-on-failure -R "$sanitize_regex"); then
    passed=$((passed + 1))
  else
    sanitize_status=1
    failed=$((failed + 1))
    sanitize_note=" (the sanitizer run of the unit tests failed)"
  fi
fi

echo "tests: $passed passed, $failed failed, $skipped skipped$fuzz_note$sanitize_note"
if [ "$ctest_status" -ne 0 ] || [ "$fuzz_status" -ne 0 ] || [ "$sanitize_status" -ne 0 ]; then
  exit 1
fi
