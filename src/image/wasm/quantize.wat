;; The two pixel passes of palette.ts's octree quantizer for opaque images
;; (fineSumsOpaque and the final index mapping), for quantize-wasm.ts. The
;; source of quantize-wasm.ts: regenerate that file with
;; `bun scripts/gen-wasm.ts` (needs wat2wasm: apt-get install wabt).
;;
;; Pixels are little-endian RGBA int32s (red in the low byte). Each pixel's
;; fine bucket is 4 bits of red, green and blue: ((p << 4) & 0xf00) |
;; ((p >> 8) & 0xf0) | ((p >> 20) & 0xf). Both passes go a run of one colour
;; at a time (map tiles are mostly long runs): `sums` first marks where runs
;; start, 16 pixels a step, in a bit string that both passes walk; images of
;; short runs go a pixel at a time once no exact palette is sought.
;; The bucket, the run walk and the fill are written out where they are used:
;; as functions JSC does not inline them, and the per-pixel loops of noisy
;; images took about 60% longer.
;;
;; Fixed memory layout (byte addresses):
;;   0       SUMS: per bucket the sums of red, green, blue and the pixel
;;           count, 4 i32 (16 bytes) each, 4096 buckets; zero between calls
;;           (the caller zeroes what `sums` filled)
;;   65536   SLOT_KEY: 1024 i32, the exact palette's hash keys
;;   69632   SLOT_IDX: 1024 i32, palette index per slot, -1 when empty
;;   73728   KEYS: 256 i32, the exact palette's colours in order of first use
;;   74752   LOOKUP: 4096 u8, palette entry per bucket (set by the caller)
;;   81920   PIXELS (the caller's choice of addresses from here on): n i32
;;           and 64 bytes of slack (the run marks read up to 60 bytes past
;;           the pixels); the run bits, n bits in 8-byte words and one word
;;           more; the indices, n u8 and 16 bytes of slack (the vector
;;           stores write up to 15 bytes past a run, into bytes a later run
;;           writes again or into the slack).

(module
  (memory (export "memory") 2)

  (global $SLOT_KEY i32 (i32.const 65536))
  (global $SLOT_IDX i32 (i32.const 69632))
  (global $KEYS i32 (i32.const 73728))
  (global $LOOKUP i32 (i32.const 74752))
  ;; Whether the image `sums` saw last has short runs (fewer than 4 pixels
  ;; on average): its passes then go a pixel at a time once no run needs to be
  ;; told apart (finding them costs more than they save).
  (global $dense (mut i32) (i32.const 0))

  ;; Marks where runs start in $mask: bit i (of the little-endian bit
  ;; string) is set when pixel i differs from pixel i - 1, and for pixel 0.
  ;; 16 pixels a step, so it reads up to 60 bytes past the n pixels; bits
  ;; from n on are 0, up to the next 8-byte boundary.
  (func $mark_runs (param $px i32) (param $n i32) (param $mask i32)
    (local $a i32) (local $end i32) (local $m i32) (local $g i32) (local $bits i32) (local $runs i32)
    (local.set $a (local.get $px))
    (local.set $end (i32.add (local.get $px) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $m (local.get $mask))
    (loop $step
      (local.set $bits
        (i8x16.bitmask
          (i8x16.narrow_i16x8_s
            (i16x8.narrow_i32x4_s
              (i32x4.ne (v128.load (local.get $a)) (v128.load (i32.sub (local.get $a) (i32.const 4))))
              (i32x4.ne (v128.load offset=16 (local.get $a)) (v128.load offset=12 (local.get $a))))
            (i16x8.narrow_i32x4_s
              (i32x4.ne (v128.load offset=32 (local.get $a)) (v128.load offset=28 (local.get $a)))
              (i32x4.ne (v128.load offset=48 (local.get $a)) (v128.load offset=44 (local.get $a)))))))
      (i32.store16 (local.get $m) (local.get $bits))
      (local.set $runs (i32.add (local.get $runs) (i32.popcnt (local.get $bits))))
      (local.set $a (i32.add (local.get $a) (i32.const 64)))
      (local.set $m (i32.add (local.get $m) (i32.const 2)))
      (br_if $step (i32.lt_u (local.get $a) (local.get $end))))
    ;; pixel 0 starts a run; nothing from pixel n on does
    (i32.store16 (local.get $mask) (i32.or (i32.load16_u (local.get $mask)) (i32.const 1)))
    (local.set $g (i32.add (local.get $mask) (i32.shl (i32.shr_u (local.get $n) (i32.const 4)) (i32.const 1))))
    (if (i32.and (local.get $n) (i32.const 15))
      (then
        (i32.store16 (local.get $g)
          (i32.and (i32.load16_u (local.get $g))
            (i32.sub (i32.shl (i32.const 1) (i32.and (local.get $n) (i32.const 15))) (i32.const 1))))
        (local.set $g (i32.add (local.get $g) (i32.const 2)))))
    (i64.store (local.get $g) (i64.const 0))
    ;; (the bits past n counted too: at most 15 runs more)
    (global.set $dense (i32.gt_u (i32.shl (local.get $runs) (i32.const 2)) (local.get $n))))

  ;; The bucket sums of the n pixels at $px, a run at a time. With
  ;; $max_exact > 0 the same pass collects the image's own colours (alpha
  ;; forced opaque) in KEYS and writes each pixel's index to $out (n bytes,
  ;; and up to 15 past them), until a colour beyond $max_exact turns up.
  ;; Returns the number of colours when they all fit, else -1 (the sums are
  ;; complete either way). Leaves the run starts in $mask (n / 8 bytes
  ;; rounded up to 8, and 8 more) for `map`.
  (func (export "sums") (param $px i32) (param $n i32) (param $max_exact i32) (param $out i32) (param $mask i32) (result i32)
    (local $wa i32) (local $wlast i32) (local $word i64) (local $base i32) (local $start i32) (local $pos i32) (local $last i32)
    (local $colors i32) (local $p i32) (local $o i32) (local $run i32) (local $k i32) (local $s i32) (local $idx i32)
    (local $d i32) (local $dend i32) (local $v v128)
    (call $mark_runs (local.get $px) (local.get $n) (local.get $mask))
    (local.set $colors (i32.const -1))
    (if (i32.gt_s (local.get $max_exact) (i32.const 0))
      (then
        (local.set $colors (i32.const 0))
        (memory.fill (global.get $SLOT_IDX) (i32.const 0xff) (i32.const 4096))))
    (local.set $wa (local.get $mask))
    (local.set $wlast (i32.add (local.get $mask) (i32.shl (i32.shr_u (i32.sub (i32.add (local.get $n) (i32.const 63)) (i32.const 64)) (i32.const 6)) (i32.const 3))))
    ;; pixel 0 is the first run's start, not the end of one
    (local.set $word (i64.and (i64.load (local.get $wa)) (i64.const -2)))
    (block $per_pixel
    (loop $runs
      ;; the next run start, or n after the last one
      (if (i64.eqz (local.get $word))
        (then
          (if (i32.lt_u (local.get $wa) (local.get $wlast))
            (then
              (local.set $wa (i32.add (local.get $wa) (i32.const 8)))
              (local.set $base (i32.add (local.get $base) (i32.const 64)))
              (local.set $word (i64.load (local.get $wa)))
              (br $runs)))
          (local.set $pos (local.get $n))
          (local.set $last (i32.const 1)))
        (else
          (local.set $pos (i32.add (local.get $base) (i32.wrap_i64 (i64.ctz (local.get $word)))))
          (local.set $word (i64.and (local.get $word) (i64.sub (local.get $word) (i64.const 1))))))
      ;; no exact palette to look for in a dense image: the rest a pixel at a time
      (br_if $per_pixel (i32.and (global.get $dense) (i32.lt_s (local.get $colors) (i32.const 0))))
      ;; the run [start, pos): its bucket's sums
      (local.set $p (i32.load (i32.add (local.get $px) (i32.shl (local.get $start) (i32.const 2)))))
      (local.set $run (i32.sub (local.get $pos) (local.get $start)))
      (local.set $o (i32.shl
        (i32.or
          (i32.or
            (i32.and (i32.shl (local.get $p) (i32.const 4)) (i32.const 0xf00))
            (i32.and (i32.shr_u (local.get $p) (i32.const 8)) (i32.const 0xf0)))
          (i32.and (i32.shr_u (local.get $p) (i32.const 20)) (i32.const 0xf)))
        (i32.const 4)))
      ;; (red, green, blue, 1) times the run, added to the bucket's four sums at once
      (v128.store (local.get $o)
        (i32x4.add (v128.load (local.get $o))
          (i32x4.mul (i32x4.splat (local.get $run))
            (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u
              (i32x4.splat (i32.or (i32.and (local.get $p) (i32.const 0xffffff)) (i32.const 0x1000000))))))))
      ;; and while the colours fit, its exact palette index
      (if (i32.ge_s (local.get $colors) (i32.const 0))
        (then
          (local.set $k (i32.or (local.get $p) (i32.const 0xff000000)))
          ;; the slot of k: where it is, or the empty slot where it goes
          (local.set $s (i32.shr_u (i32.mul (local.get $k) (i32.const 0x9e3779b1)) (i32.const 22)))
          (block $found
            (loop $probe
              (local.set $idx (i32.load (i32.add (global.get $SLOT_IDX) (i32.shl (local.get $s) (i32.const 2)))))
              (br_if $found (i32.lt_s (local.get $idx) (i32.const 0)))
              (br_if $found (i32.eq (i32.load (i32.add (global.get $SLOT_KEY) (i32.shl (local.get $s) (i32.const 2)))) (local.get $k)))
              (local.set $s (i32.and (i32.add (local.get $s) (i32.const 1)) (i32.const 1023)))
              (br $probe)))
          (if (i32.lt_s (local.get $idx) (i32.const 0))
            (then
              (if (i32.eq (local.get $colors) (local.get $max_exact))
                (then
                  ;; one colour too many: only the sums from here on
                  (local.set $colors (i32.const -1)))
                (else
                  (local.set $idx (local.get $colors))
                  (local.set $colors (i32.add (local.get $colors) (i32.const 1)))
                  (i32.store (i32.add (global.get $SLOT_IDX) (i32.shl (local.get $s) (i32.const 2))) (local.get $idx))
                  (i32.store (i32.add (global.get $SLOT_KEY) (i32.shl (local.get $s) (i32.const 2))) (local.get $k))
                  (i32.store (i32.add (global.get $KEYS) (i32.shl (local.get $idx) (i32.const 2))) (local.get $k))))))
          (if (i32.ge_s (local.get $colors) (i32.const 0))
            (then
              (local.set $v (i8x16.splat (local.get $idx)))
              (local.set $d (i32.add (local.get $out) (local.get $start)))
          (local.set $dend (i32.add (local.get $out) (local.get $pos)))
          (loop $fill
            (v128.store (local.get $d) (local.get $v))
            (local.set $d (i32.add (local.get $d) (i32.const 16)))
            (br_if $fill (i32.lt_u (local.get $d) (local.get $dend))))))))
      (local.set $start (local.get $pos))
      (br_if $runs (i32.eqz (local.get $last))))
    (return (local.get $colors)))
    (local.set $pos (i32.add (local.get $px) (i32.shl (local.get $start) (i32.const 2))))
    (local.set $last (i32.add (local.get $px) (i32.shl (local.get $n) (i32.const 2))))
    (loop $pixels
      (local.set $p (i32.load (local.get $pos)))
      (local.set $o (i32.shl
        (i32.or
          (i32.or
            (i32.and (i32.shl (local.get $p) (i32.const 4)) (i32.const 0xf00))
            (i32.and (i32.shr_u (local.get $p) (i32.const 8)) (i32.const 0xf0)))
          (i32.and (i32.shr_u (local.get $p) (i32.const 20)) (i32.const 0xf)))
        (i32.const 4)))
      (v128.store (local.get $o)
        (i32x4.add (v128.load (local.get $o))
          (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u
            (i32x4.splat (i32.or (i32.and (local.get $p) (i32.const 0xffffff)) (i32.const 0x1000000)))))))
      (local.set $pos (i32.add (local.get $pos) (i32.const 4)))
      (br_if $pixels (i32.lt_u (local.get $pos) (local.get $last))))
    (local.get $colors))

  ;; Each of the n pixels at $px to LOOKUP's entry for its bucket, into $out
  ;; (n bytes, and up to 15 past them), a run at a time by the run starts
  ;; `sums` left in $mask.
  (func (export "map") (param $px i32) (param $n i32) (param $out i32) (param $mask i32)
    (local $wa i32) (local $wlast i32) (local $word i64) (local $base i32) (local $start i32) (local $pos i32) (local $last i32)
    (local $p i32) (local $d i32) (local $dend i32) (local $v v128)
    (if (global.get $dense)
      (then
        (local.set $d (local.get $out))
        (local.set $dend (i32.add (local.get $out) (local.get $n)))
        (loop $pixels
          (local.set $p (i32.load (local.get $px)))
          (i32.store8 (local.get $d) (i32.load8_u (i32.add (global.get $LOOKUP)
            (i32.or
          (i32.or
            (i32.and (i32.shl (local.get $p) (i32.const 4)) (i32.const 0xf00))
            (i32.and (i32.shr_u (local.get $p) (i32.const 8)) (i32.const 0xf0)))
          (i32.and (i32.shr_u (local.get $p) (i32.const 20)) (i32.const 0xf))))))
          (local.set $px (i32.add (local.get $px) (i32.const 4)))
          (local.set $d (i32.add (local.get $d) (i32.const 1)))
          (br_if $pixels (i32.lt_u (local.get $d) (local.get $dend))))
        (return)))
    (local.set $wa (local.get $mask))
    (local.set $wlast (i32.add (local.get $mask) (i32.shl (i32.shr_u (i32.sub (i32.add (local.get $n) (i32.const 63)) (i32.const 64)) (i32.const 6)) (i32.const 3))))
    ;; pixel 0 is the first run's start, not the end of one
    (local.set $word (i64.and (i64.load (local.get $wa)) (i64.const -2)))
    (loop $runs
      ;; the next run start, or n after the last one
      (if (i64.eqz (local.get $word))
        (then
          (if (i32.lt_u (local.get $wa) (local.get $wlast))
            (then
              (local.set $wa (i32.add (local.get $wa) (i32.const 8)))
              (local.set $base (i32.add (local.get $base) (i32.const 64)))
              (local.set $word (i64.load (local.get $wa)))
              (br $runs)))
          (local.set $pos (local.get $n))
          (local.set $last (i32.const 1)))
        (else
          (local.set $pos (i32.add (local.get $base) (i32.wrap_i64 (i64.ctz (local.get $word)))))
          (local.set $word (i64.and (local.get $word) (i64.sub (local.get $word) (i64.const 1))))))
      (local.set $p (i32.load (i32.add (local.get $px) (i32.shl (local.get $start) (i32.const 2)))))
      (local.set $v (i8x16.splat (i32.load8_u (i32.add (global.get $LOOKUP)
        (i32.or
          (i32.or
            (i32.and (i32.shl (local.get $p) (i32.const 4)) (i32.const 0xf00))
            (i32.and (i32.shr_u (local.get $p) (i32.const 8)) (i32.const 0xf0)))
          (i32.and (i32.shr_u (local.get $p) (i32.const 20)) (i32.const 0xf)))))))
      (local.set $d (i32.add (local.get $out) (local.get $start)))
      (local.set $dend (i32.add (local.get $out) (local.get $pos)))
      (loop $fill
        (v128.store (local.get $d) (local.get $v))
        (local.set $d (i32.add (local.get $d) (i32.const 16)))
        (br_if $fill (i32.lt_u (local.get $d) (local.get $dend))))
      (local.set $start (local.get $pos))
      (br_if $runs (i32.eqz (local.get $last)))))
)
