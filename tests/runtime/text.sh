# tests/runtime/text.sh: the trainer on text (--text, --test-text, --vocab),
# the stream layout of a stateful model, bits per byte, and sampling.
# Sourced by tests/runtime/run.sh in its scratch directory, with run/ok/bad
# and the fake_text models built (a bigram model over class(8)[4], batch 4;
# fake_tbptt is the same, stateful, and reports on stderr how many batch
# rows continued the previous batch's).

# 1000 bytes of 6 distinct ones; 6 + 'z' + 'q'; 9 distinct ones.
awk 'BEGIN { s = "abcab cabd\nbca ab"; for (i = 0; i < 1000; i++) printf "%s", substr(s, i % 17 + 1, 1) }' >text.txt
printf 'abab abab\ncdcd abcd ab' >small_test.txt
printf 'abcdefgh\n' >nine.txt
head -c 19 text.txt >short19.txt
printf ' \nabcdq' >vocab7.txt
printf 'abcz abcd abca abcd abcd' >zed.txt
: >empty.txt

run text ./fake_text --text text.txt --checkpoint text.ckpt
# 1000 bytes: test = the last 100, validation = 0.1 of the 900 left (90),
# training 810; windows of T + 1 = 5 with stride 4: (810 - 1) / 4 = 202,
# (90 - 1) / 4 = 22, (100 - 1) / 4 = 24.
bpc_ok=$(awk '/^test loss: / { l = $3 } /^test bpc: / { b = $3 }
    END { d = l / log(2) - b; exit !(b != "" && d < 0.0001 && d > -0.0001) }' text.out && echo yes)
if [ $status -eq 0 ] && grep -q '^fake_text: text: 1000 bytes from 1 file, a vocabulary of 6 bytes in class(8); training 810 bytes, validation 90, test 100 (the last 10% of the text)$' text.out &&
        grep -q '^fake_text: 202 training samples, 22 for validation, 24 test; batch 4' text.out &&
        [ "$(grep -cE '^epoch [12]/2  train loss [0-9.]+  val loss [0-9.]+  val acc [0-9.]+  val bpc [0-9]+\.[0-9]{4}  \(' text.out)" = 2 ] &&
        [ "$bpc_ok" = yes ] && [ ! -s text.err ]; then
    ok text_trains_with_contiguous_splits_and_bpc
else
    bad text_trains_with_contiguous_splits_and_bpc "status $status: $(cat text.out text.err)"
fi

# The same bytes as two files, and as a directory of them (name order).
mkdir -p textdir
head -c 600 text.txt >textdir/part1
tail -c 400 text.txt >textdir/part2
run text_two ./fake_text --text textdir/part1 --text textdir/part2 --checkpoint text_two.ckpt
run text_dir ./fake_text --text textdir --checkpoint text_dir.ckpt
if [ $status -eq 0 ] && [ "$(untimed text.out | sed 1d)" = "$(untimed text_dir.out | sed 1d | sed 's/text_dir.ckpt/text.ckpt/')" ] &&
        [ "$(untimed text_two.out)" = "$(untimed text_dir.out | sed 's/text_dir.ckpt/text_two.ckpt/')" ] &&
        grep -q 'text: 1000 bytes from 2 files' text_dir.out; then
    ok text_files_and_directory_concatenate
else
    bad text_files_and_directory_concatenate "status $status: $(diff text.out text_dir.out | head -c 600)"
fi

run text_test ./fake_text --text text.txt --test-text small_test.txt --validation 0 --limit 50 --checkpoint text_test.ckpt
if [ $status -eq 0 ] && grep -q 'training 1000 bytes, validation 0, test 22 (small_test.txt)$' text_test.out &&
        grep -q '^fake_text: 50 training samples, 0 for validation, 5 test;' text_test.out &&
        grep -q 'end-of-epoch train loss .* train bpc ' text_test.out; then
    ok text_test_text_limit_and_no_validation
else
    bad text_test_text_limit_and_no_validation "status $status: $(cat text_test.out text_test.err)"
fi

# text_error NAME STATUS MESSAGE ARGS...: the run fails with STATUS and MESSAGE on stderr.
text_error() {
    local name=$1 want=$2 msg=$3
    shift 3
    run "$name" "$@"
    if [ $status -eq "$want" ] && grep -qF -- "$msg" "$name.err"; then
        ok "$name"
    else
        bad "$name" "status $status (want $want), want '$msg': $(cat "$name.err")"
    fi
}
text_error text_missing_file 1 "fake_text: error: cannot open 'nope.txt': No such file or directory" \
    ./fake_text --text text.txt --text nope.txt --checkpoint e.ckpt
text_error text_empty_file 1 "fake_text: error: 'empty.txt' is empty: a text file needs at least one byte" \
    ./fake_text --text empty.txt --checkpoint e.ckpt
text_error text_too_many_bytes 1 "fake_text: error: the text has 9 distinct bytes; the model's class(8) holds 8: declare the network's tokens class(9)" \
    ./fake_text --text nine.txt --checkpoint e.ckpt
text_error text_vocab_too_big 1 "fake_text: error: the vocabulary 'nine.txt' has 9 distinct bytes; the model's class(8) holds 8" \
    ./fake_text --text text.txt --vocab nine.txt --checkpoint e.ckpt
text_error text_byte_outside_vocab 1 "fake_text: error: zed.txt: byte 'z' (0x7a) at offset 3 is not in the vocabulary 'vocab7.txt'" \
    ./fake_text --text text.txt --text zed.txt --vocab vocab7.txt --checkpoint e.ckpt
text_error text_test_byte_outside 1 "fake_text: error: zed.txt: byte 'z' (0x7a) at offset 3 is not in the vocabulary of the training text" \
    ./fake_text --text text.txt --test-text zed.txt --checkpoint e.ckpt
text_error text_too_short 1 "fake_text: error: the training text is too short: 2 bytes, less than one window of T + 1 = 5 bytes" \
    ./fake_text --text small_test.txt --test-text small_test.txt --validation 0.9 --checkpoint e.ckpt
text_error text_test_too_short 1 "the test text (the last 10% of the text) is too short: 2 bytes, less than one window of T + 1 = 5 bytes (give --test-text FILE)" \
    ./fake_text --text small_test.txt --validation 0 --checkpoint e.ckpt
text_error text_stateful_too_short 1 "fake_tbptt: error: the training text is too short: 19 bytes, but the stateful model reads it as 4 parallel streams (one per batch row) of at least one window of T + 1 = 5 bytes each, 20 bytes in all" \
    ./fake_tbptt --text short19.txt --test-text text.txt --validation 0 --checkpoint e.ckpt
text_error text_needs_a_text_model 2 "fake: error: --text needs a network whose data is one class input and one class label of the same class(V)[T] (the tokens and the next tokens); fake has input 'x' (4 values), label 'y' class(3)[1]" \
    ./fake --text text.txt --checkpoint e.ckpt
text_error text_is_all_the_data 2 "fake_text: error: --train-csv does not go with --text or --test-text" \
    ./fake_text --text text.txt --train-csv train.csv --checkpoint e.ckpt
text_error text_test_text_needs_text 2 "fake_text: error: --test-text needs --text FILE: the training text" \
    ./fake_text --test-text text.txt --checkpoint e.ckpt
text_error text_prompt_outside_vocab 2 "fake_text: error: --prompt: byte 'q' (0x71) at offset 2 is not in the vocabulary of the training text" \
    ./fake_text --text text.txt --sample 5 --prompt 'abq' --epochs 1 --checkpoint e.ckpt
text_error text_sample_needs_vocab 2 "fake_text: error: --sample needs the vocabulary the network was trained with: give --text FILE (the training text) or --vocab FILE" \
    ./fake_text --eval-only --sample 5 --checkpoint text.ckpt
text_error text_sample_needs_output 2 "fake: error: --sample needs a network whose data is one class input and one class label" \
    ./fake --sample 5 --eval-only --checkpoint best.ckpt
if [ -f e.ckpt ]; then bad text_errors_write_nothing "e.ckpt was written"; else ok text_errors_write_nothing; fi

# The stream layout: every batch row continues the previous batch's row;
# the state is reset at the start of each epoch and before each
# evaluation (3 epochs, 3 validation passes, the test: 7 resets). 810
# training bytes are 4 streams of 202, 50 windows each: 50 batches; the
# validation 90 bytes, 4 streams of 22, 5 batches; the test 100 bytes,
# 6 batches. So 3 * 49 * 4 + 3 * 4 * 4 + 5 * 4 = 656 rows continued, none
# broken, and every call a whole batch.
run tbptt ./fake_tbptt --text text.txt --epochs 3 --checkpoint tbptt.ckpt
if [ $status -eq 0 ] && grep -qx 'fake_text: continued 656, broken 0, resets 7, partial 0' tbptt.err &&
        grep -q '^fake_tbptt: 200 training samples, 20 for validation, 24 test;' tbptt.out &&
        grep -q 'stateful: one stream per batch row$' tbptt.out; then
    ok text_stateful_streams_continue_batch_to_batch
else
    bad text_stateful_streams_continue_batch_to_batch "status $status: $(cat tbptt.out tbptt.err)"
fi
# Shuffled windows do not continue each other: the same check catches it.
run tbptt_csv ./fake_tbptt --text text.txt --epochs 1 --limit 8 --checkpoint tbptt_l.ckpt
if [ $status -eq 0 ] && grep -q '^fake_tbptt: 8 training samples' tbptt_csv.out &&
        grep -q 'broken 0, resets 3, partial 0$' tbptt_csv.err; then
    ok text_stateful_limit_whole_batches
else
    bad text_stateful_limit_whole_batches "status $status: $(cat tbptt_csv.out tbptt_csv.err)"
fi

# Sampling: the same seed, the same sample; another seed, another; the
# checkpoint with --eval-only and the vocabulary alone, the same again;
# temperature 0 and top-k 1 both take the likeliest byte, whatever the
# seed; probabilities and logits as the output, the same draws.
sample_of() { sed -n '/^sample (/,$p' "$1"; }
printf ' \nabcd' >vocab6.txt
run s1 ./fake_text --text text.txt --checkpoint s.ckpt --sample 60 --sample-seed 5 --prompt 'ab'
run s2 ./fake_text --text text.txt --checkpoint s.ckpt --overwrite --sample 60 --sample-seed 5 --prompt 'ab'
run s3 ./fake_text --text text.txt --checkpoint s.ckpt --overwrite --sample 60 --sample-seed 6 --prompt 'ab'
run s4 ./fake_text --eval-only --vocab vocab6.txt --checkpoint s.ckpt --sample 60 --sample-seed 5 --prompt 'ab'
if [ $status -eq 0 ] && [ -n "$(sample_of s1.out)" ] && [ "$(sample_of s1.out)" = "$(sample_of s2.out)" ] &&
        [ "$(sample_of s1.out)" != "$(sample_of s3.out)" ] &&
        sample_of s1.out | sed -n 2p | grep -q '^ab' &&
        [ "$(sample_of s1.out | sed 1d | wc -c)" -eq 63 ] && ! grep -q '^test' s4.out; then
    ok text_sample_deterministic_by_seed
else
    bad text_sample_deterministic_by_seed "status $status: $(sample_of s1.out; sample_of s2.out; sample_of s3.out; cat s4.out s4.err)"
fi
# s4's vocabulary orders the classes as training did only when it lists the
# same bytes in byte order: ' \nabcd' is not, so train one with it.
run s5 ./fake_text --text text.txt --vocab vocab6.txt --checkpoint s5.ckpt --sample 60 --sample-seed 5 --prompt 'ab'
run s6 ./fake_text --eval-only --vocab vocab6.txt --checkpoint s5.ckpt --sample 60 --sample-seed 5 --prompt 'ab'
if [ $status -eq 0 ] && [ "$(sample_of s5.out)" = "$(sample_of s6.out)" ] && [ "$(grep -c . s6.out)" -ge 2 ]; then
    ok text_sample_from_checkpoint_with_vocab
else
    bad text_sample_from_checkpoint_with_vocab "status $status: $(cat s5.out s6.out s6.err)"
fi
run g1 ./fake_text --eval-only --text text.txt --checkpoint s.ckpt --sample 40 --temperature 0 --sample-seed 1
run g2 ./fake_text --eval-only --text text.txt --checkpoint s.ckpt --sample 40 --top-k 1 --sample-seed 2
run g3 ./fake_probs --eval-only --text text.txt --checkpoint s.ckpt --sample 40 --temperature 0 --sample-seed 3
run p1 ./fake_text --eval-only --text text.txt --checkpoint s.ckpt --sample 200 --top-k 3 --temperature 0.7
run p2 ./fake_probs --eval-only --text text.txt --checkpoint s.ckpt --sample 200 --top-k 3 --temperature 0.7
if [ "$(sample_of g1.out | sed 1d)" = "$(sample_of g2.out | sed 1d)" ] &&
        [ "$(sample_of g1.out | sed 1d)" = "$(sample_of g3.out | sed 1d)" ] &&
        [ "$(sample_of p1.out | sed 1d)" = "$(sample_of p2.out | sed 1d)" ] &&
        grep -q '^test bpc: ' g1.out; then
    ok text_sample_greedy_topk_and_probabilities
else
    bad text_sample_greedy_topk_and_probabilities "$(sample_of g1.out; sample_of g2.out; sample_of g3.out; sample_of p1.out; sample_of p2.out)"
fi

if command -v valgrind >/dev/null 2>&1; then
    run vg_text valgrind -q --error-exitcode=9 --leak-check=full ./fake_tbptt --text textdir \
        --epochs 1 --checkpoint vg_text.ckpt --sample 20 --prompt 'ab'
    if [ $status -eq 0 ] && grep -q '^test bpc: ' vg_text.out; then
        ok valgrind_text_driver
    else
        bad valgrind_text_driver "status $status: $(head -n 8 vg_text.err | tr '\n' ' ')"
    fi
fi

# A stateful network trained from CSV files keeps the rows in file order
# (no shuffle; validation = the last rows), whole batches only: rows laid
# out as streams continue each other, as from --text; and a test set
# smaller than one batch is refused.
python3 - <<'PY'
text = open("text.txt", "rb").read()
vocab = sorted(set(text))
tok = [vocab.index(b) for b in text]
T, S = 4, 4
L = len(tok) // S
W = (L - 1) // T
with open("streams.csv", "w") as f:
    for c in range(W):
        for b in range(S):
            s = b * L + c * T
            f.write(",".join(map(str, tok[s:s + T] + tok[s + 1:s + T + 1])) + "\n")
with open("streams_short.csv", "w") as f:
    f.write("0,1,2,3,1,2,3,4\n" * 3)
PY
run tbptt_rows ./fake_tbptt --train-csv streams.csv --test-csv streams.csv --validation 0.2 --epochs 2 --checkpoint tbptt_rows.ckpt
# 248 rows: 50 for validation (12 whole batches evaluated), 198 to train (49 batches).
if [ $status -eq 0 ] && grep -q '^fake_tbptt: 198 training samples, 50 for validation, 248 test;' tbptt_rows.out &&
        grep -q 'broken 0, resets 5, partial 0$' tbptt_rows.err && ! grep -q 'continued 0,' tbptt_rows.err; then
    ok text_stateful_csv_rows_in_order
else
    bad text_stateful_csv_rows_in_order "status $status: $(cat tbptt_rows.out tbptt_rows.err)"
fi
text_error text_stateful_test_smaller_than_batch 1 "fake_tbptt: error: the stateful network evaluates whole batches of 4 rows in order, but its test set has only 3" \
    ./fake_tbptt --train-csv streams.csv --test-csv streams_short.csv --epochs 1 --checkpoint short.ckpt
