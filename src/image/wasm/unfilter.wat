;; PNG scanline unfiltering and RGB -> RGBA expansion for png-decode.ts, and
;; the scanlines and adler-32 of uncompressed PNGs for stored-png.ts.
;; The source of unfilter-wasm.ts: regenerate that file with
;; `bun scripts/gen-wasm.ts` (needs wat2wasm: apt-get install wabt).
;;
;; Memory layout, set up by the caller (all offsets are byte addresses):
;;   src: height scanlines of 1 + stride bytes (filter type, then the samples)
;;   dst: height rows of stride bytes, preceded by one row of stride zeros
;;        (the "row above" the first row) and followed by 16 bytes of slack:
;;        the vector loops read and write up to 15 bytes past a row's end,
;;        always into bytes that are written again later or into the slack.
;; Rows are unfiltered in order, so the row above is always final.

(module
  (memory (export "memory") 1)

  ;; Unfilters `height` scanlines from src into dst. bpp is the number of
  ;; bytes a pixel (1 for samples below 8 bits). Returns 0, or 1 + the row
  ;; index whose filter type is not 0..4.
  (func (export "unfilter") (param $src i32) (param $dst i32) (param $height i32) (param $stride i32) (param $bpp i32) (result i32)
    (local $y i32) (local $s i32) (local $d i32) (local $f i32)
    (local.set $s (local.get $src))
    (local.set $d (local.get $dst))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $y) (local.get $height)))
        (local.set $f (i32.load8_u (local.get $s)))
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (block $bad
          (block $paeth
            (block $avg
              (block $up
                (block $sub
                  (block $none
                    (br_table $none $sub $up $avg $paeth $bad (local.get $f)))
                  ;; 0: None
                  (memory.copy (local.get $d) (local.get $s) (local.get $stride))
                  (br $bad))
                ;; 1: Sub
                (call $sub (local.get $s) (local.get $d) (local.get $stride) (local.get $bpp))
                (br $bad))
              ;; 2: Up
              (call $up (local.get $s) (local.get $d) (local.get $stride))
              (br $bad))
            ;; 3: Average
            (call $avg (local.get $s) (local.get $d) (local.get $stride) (local.get $bpp))
            (br $bad))
          ;; 4: Paeth. 3- and 4-byte pixels in vectors; four or two Paeth rows in
          ;; a row are done together, which is about three or two times as fast.
          (if (i32.or (i32.eq (local.get $bpp) (i32.const 4)) (i32.eq (local.get $bpp) (i32.const 3)))
            (then
              (if (i32.and
                    (i32.lt_u (i32.add (local.get $y) (i32.const 3)) (local.get $height))
                    (i32.and
                      (i32.eq (i32.load8_u (i32.add (local.get $s) (local.get $stride))) (i32.const 4))
                      (i32.and
                        (i32.eq (i32.load8_u (i32.add (local.get $s) (i32.add (i32.shl (local.get $stride) (i32.const 1)) (i32.const 1)))) (i32.const 4))
                        (i32.eq (i32.load8_u (i32.add (local.get $s) (i32.add (i32.mul (local.get $stride) (i32.const 3)) (i32.const 2)))) (i32.const 4)))))
                (then
                  (call $paeth_quad (local.get $s) (local.get $d) (local.get $stride) (local.get $bpp))
                  ;; rows 2-4 are done too: step over them here, the tail below steps over the first
                  (local.set $s (i32.add (local.get $s) (i32.mul (i32.add (local.get $stride) (i32.const 1)) (i32.const 3))))
                  (local.set $d (i32.add (local.get $d) (i32.mul (local.get $stride) (i32.const 3))))
                  (local.set $y (i32.add (local.get $y) (i32.const 3)))
                  (br $bad)))
              (if (i32.and
                    (i32.lt_u (i32.add (local.get $y) (i32.const 1)) (local.get $height))
                    (i32.eq (i32.load8_u (i32.add (local.get $s) (local.get $stride))) (i32.const 4)))
                (then
                  (call $paeth_pair (local.get $s) (local.get $d) (local.get $stride) (local.get $bpp))
                  ;; the second row is done too: step over it here, the tail below steps over the first
                  (local.set $s (i32.add (local.get $s) (i32.add (local.get $stride) (i32.const 1))))
                  (local.set $d (i32.add (local.get $d) (local.get $stride)))
                  (local.set $y (i32.add (local.get $y) (i32.const 1))))
                (else (call $paeth_vec (local.get $s) (local.get $d) (local.get $stride) (local.get $bpp)))))
            (else (call $paeth (local.get $s) (local.get $d) (local.get $stride) (local.get $bpp))))
          (br $bad))
        ;; falls out here after every valid row; an invalid type lands here directly
        (if (i32.gt_u (local.get $f) (i32.const 4))
          (then (return (i32.add (local.get $y) (i32.const 1)))))
        (local.set $s (i32.add (local.get $s) (local.get $stride)))
        (local.set $d (i32.add (local.get $d) (local.get $stride)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $rows)))
    (i32.const 0))

  ;; Sub: x + left.
  (func $sub (param $s i32) (param $d i32) (param $n i32) (param $bpp i32)
    (local $i i32)
    (memory.copy (local.get $d) (local.get $s) (local.get $bpp))
    (local.set $i (local.get $bpp))
    (block $end
      (loop $l
        (br_if $end (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store8
          (i32.add (local.get $d) (local.get $i))
          (i32.add
            (i32.load8_u (i32.add (local.get $s) (local.get $i)))
            (i32.load8_u (i32.sub (i32.add (local.get $d) (local.get $i)) (local.get $bpp)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l))))

  ;; Up: x + above, 16 bytes at a time.
  (func $up (param $s i32) (param $d i32) (param $n i32)
    (local $i i32) (local $p i32)
    (local.set $p (i32.sub (local.get $d) (local.get $n)))
    (block $end
      (loop $l
        (br_if $end (i32.ge_u (local.get $i) (local.get $n)))
        (v128.store
          (i32.add (local.get $d) (local.get $i))
          (i8x16.add
            (v128.load (i32.add (local.get $s) (local.get $i)))
            (v128.load (i32.add (local.get $p) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $l))))

  ;; Average: x + floor((left + above) / 2).
  (func $avg (param $s i32) (param $d i32) (param $n i32) (param $bpp i32)
    (local $i i32) (local $p i32)
    (local.set $p (i32.sub (local.get $d) (local.get $n)))
    (block $end
      (loop $l
        (br_if $end (i32.ge_u (local.get $i) (local.get $bpp)))
        (i32.store8
          (i32.add (local.get $d) (local.get $i))
          (i32.add
            (i32.load8_u (i32.add (local.get $s) (local.get $i)))
            (i32.shr_u (i32.load8_u (i32.add (local.get $p) (local.get $i))) (i32.const 1))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (block $end2
      (loop $l2
        (br_if $end2 (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store8
          (i32.add (local.get $d) (local.get $i))
          (i32.add
            (i32.load8_u (i32.add (local.get $s) (local.get $i)))
            (i32.shr_u
              (i32.add
                (i32.load8_u (i32.sub (i32.add (local.get $d) (local.get $i)) (local.get $bpp)))
                (i32.load8_u (i32.add (local.get $p) (local.get $i))))
              (i32.const 1))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l2))))

  ;; Paeth, one byte at a time (any bpp); ties favour left, then above.
  (func $paeth (param $s i32) (param $d i32) (param $n i32) (param $bpp i32)
    (local $i i32) (local $p i32) (local $a i32) (local $b i32) (local $c i32)
    (local $pa i32) (local $pb i32) (local $pc i32) (local $pred i32)
    (local.set $p (i32.sub (local.get $d) (local.get $n)))
    ;; the first pixel has no left neighbour: the predictor is the byte above
    (block $end
      (loop $l
        (br_if $end (i32.ge_u (local.get $i) (local.get $bpp)))
        (i32.store8
          (i32.add (local.get $d) (local.get $i))
          (i32.add
            (i32.load8_u (i32.add (local.get $s) (local.get $i)))
            (i32.load8_u (i32.add (local.get $p) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (block $end2
      (loop $l2
        (br_if $end2 (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $a (i32.load8_u (i32.sub (i32.add (local.get $d) (local.get $i)) (local.get $bpp))))
        (local.set $b (i32.load8_u (i32.add (local.get $p) (local.get $i))))
        (local.set $c (i32.load8_u (i32.sub (i32.add (local.get $p) (local.get $i)) (local.get $bpp))))
        (local.set $pa (i32.sub (local.get $b) (local.get $c)))
        (local.set $pb (i32.sub (local.get $a) (local.get $c)))
        (local.set $pc (i32.add (local.get $pa) (local.get $pb)))
        (local.set $pa (select (i32.sub (i32.const 0) (local.get $pa)) (local.get $pa) (i32.lt_s (local.get $pa) (i32.const 0))))
        (local.set $pb (select (i32.sub (i32.const 0) (local.get $pb)) (local.get $pb) (i32.lt_s (local.get $pb) (i32.const 0))))
        (local.set $pc (select (i32.sub (i32.const 0) (local.get $pc)) (local.get $pc) (i32.lt_s (local.get $pc) (i32.const 0))))
        (local.set $pred
          (select
            (local.get $a)
            (select (local.get $b) (local.get $c) (i32.le_s (local.get $pb) (local.get $pc)))
            (i32.and (i32.le_s (local.get $pa) (local.get $pb)) (i32.le_s (local.get $pa) (local.get $pc)))))
        (i32.store8
          (i32.add (local.get $d) (local.get $i))
          (i32.add (i32.load8_u (i32.add (local.get $s) (local.get $i))) (local.get $pred)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l2))))

  ;; Paeth for 3- and 4-byte pixels, one pixel per step in 16-bit lanes (the
  ;; way libpng's SSE2 code does it). Each step loads and stores 4 bytes; with
  ;; 3-byte pixels the 4th is the next pixel's first byte, written again by
  ;; the next step (or, after the last pixel, one byte into the next row or
  ;; the slack).
  (func $paeth_vec (param $s i32) (param $d i32) (param $n i32) (param $step i32)
    (local $i i32) (local $p i32)
    (local $a v128) (local $b v128) (local $c v128)
    (local $pa v128) (local $pb v128) (local $pc v128) (local $min v128) (local $x v128)
    (local.set $p (i32.sub (local.get $d) (local.get $n)))
    ;; a = c = 0 before the first pixel: the predictor is then the byte above
    (block $end
      (loop $l
        (br_if $end (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $b (i16x8.extend_low_i8x16_u (v128.load32_zero (i32.add (local.get $p) (local.get $i)))))
        (local.set $pa (i16x8.sub (local.get $b) (local.get $c)))
        (local.set $pb (i16x8.sub (local.get $a) (local.get $c)))
        (local.set $pc (i16x8.abs (i16x8.add (local.get $pa) (local.get $pb))))
        (local.set $pa (i16x8.abs (local.get $pa)))
        (local.set $pb (i16x8.abs (local.get $pb)))
        (local.set $min (i16x8.min_s (local.get $pc) (i16x8.min_s (local.get $pa) (local.get $pb))))
        (local.set $x
          (i8x16.add
            (v128.load32_zero (i32.add (local.get $s) (local.get $i)))
            (i8x16.narrow_i16x8_u
              (v128.bitselect
                (local.get $a)
                (v128.bitselect (local.get $b) (local.get $c) (i16x8.eq (local.get $min) (local.get $pb)))
                (i16x8.eq (local.get $min) (local.get $pa)))
              (local.get $a))))
        (v128.store32_lane 0 (i32.add (local.get $d) (local.get $i)) (local.get $x))
        (local.set $a (i16x8.extend_low_i8x16_u (local.get $x)))
        (local.set $c (local.get $b))
        (local.set $i (i32.add (local.get $i) (local.get $step)))
        (br $l))))

;; Paeth for four consecutive rows of 3- or 4-byte pixels at once: the
  ;; wavefront of paeth_pair, two of them in step. At step t, row r does its
  ;; pixel t - r; vector A holds rows 0 and 1 (lanes 0-3, 4-7), vector B rows
  ;; 2 and 3. Each row's neighbours come from the step before:
  ;;   A: a = previous A; b = [row above, pixel t | previous A's first half]
  ;;   B: a = previous B; b = [previous A's second half | previous B's first half]
  ;;   c = previous b.
  ;; The two vectors are independent within a step, so a step does four
  ;; pixels in about the time paeth_vec does one. Steps 0-2 and the last
  ;; three, where some rows are before their first pixel or past their last,
  ;; store only the rows inside; the steps between test nothing. With 3-byte
  ;; pixels a row's last store also writes the next row's first byte, put
  ;; right again at the end (its predictor is the byte above).
  (func $paeth_quad (param $s i32) (param $d i32) (param $n i32) (param $step i32)
    (local $i i32) (local $t i32) (local $npx i32) (local $p i32) (local $step2 i32) (local $step3 i32)
    (local $s1 i32) (local $s2 i32) (local $s3 i32) (local $d1 i32) (local $d2 i32) (local $d3 i32)
    (local $aA v128) (local $aB v128) (local $bA v128) (local $bB v128) (local $cA v128) (local $cB v128)
    (local $xA v128) (local $xB v128) (local $pa v128) (local $pb v128) (local $pc v128) (local $min v128)
    (local.set $npx (i32.div_u (local.get $n) (local.get $step)))
    (local.set $p (i32.sub (local.get $d) (local.get $n)))
    (local.set $step2 (i32.shl (local.get $step) (i32.const 1)))
    (local.set $step3 (i32.add (local.get $step2) (local.get $step)))
    (local.set $s1 (i32.add (local.get $s) (i32.add (local.get $n) (i32.const 1))))
    (local.set $s2 (i32.add (local.get $s1) (i32.add (local.get $n) (i32.const 1))))
    (local.set $s3 (i32.add (local.get $s2) (i32.add (local.get $n) (i32.const 1))))
    (local.set $d1 (i32.add (local.get $d) (local.get $n)))
    (local.set $d2 (i32.add (local.get $d1) (local.get $n)))
    (local.set $d3 (i32.add (local.get $d2) (local.get $n)))
    ;; steps 0-2 (there are npx + 3 >= 4 steps)
    (block $head_end
      (loop $head
        (br_if $head_end (i32.ge_u (local.get $t) (i32.const 3)))
        (local.set $bA (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (i16x8.extend_low_i8x16_u (v128.load32_zero (i32.add (local.get $p) (local.get $i)))) (local.get $aA)))
        (local.set $bB (i8x16.shuffle 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 (local.get $aA) (local.get $aB)))
        (local.set $pa (i16x8.sub (local.get $bA) (local.get $cA)))
        (local.set $pb (i16x8.sub (local.get $aA) (local.get $cA)))
        (local.set $pc (i16x8.abs (i16x8.add (local.get $pa) (local.get $pb))))
        (local.set $pa (i16x8.abs (local.get $pa)))
        (local.set $pb (i16x8.abs (local.get $pb)))
        (local.set $min (i16x8.min_s (local.get $pc) (i16x8.min_s (local.get $pa) (local.get $pb))))
        (local.set $xA (i8x16.add (v128.load32_lane 1 (i32.sub (i32.add (local.get $s1) (local.get $i)) (local.get $step)) (v128.load32_zero (i32.add (local.get $s) (local.get $i)))) (i8x16.narrow_i16x8_u (v128.bitselect (local.get $aA) (v128.bitselect (local.get $bA) (local.get $cA) (i16x8.eq (local.get $min) (local.get $pb))) (i16x8.eq (local.get $min) (local.get $pa))) (local.get $aA))))
        (local.set $pa (i16x8.sub (local.get $bB) (local.get $cB)))
        (local.set $pb (i16x8.sub (local.get $aB) (local.get $cB)))
        (local.set $pc (i16x8.abs (i16x8.add (local.get $pa) (local.get $pb))))
        (local.set $pa (i16x8.abs (local.get $pa)))
        (local.set $pb (i16x8.abs (local.get $pb)))
        (local.set $min (i16x8.min_s (local.get $pc) (i16x8.min_s (local.get $pa) (local.get $pb))))
        (local.set $xB (i8x16.add (v128.load32_lane 1 (i32.sub (i32.add (local.get $s3) (local.get $i)) (local.get $step3)) (v128.load32_zero (i32.sub (i32.add (local.get $s2) (local.get $i)) (local.get $step2)))) (i8x16.narrow_i16x8_u (v128.bitselect (local.get $aB) (v128.bitselect (local.get $bB) (local.get $cB) (i16x8.eq (local.get $min) (local.get $pb))) (i16x8.eq (local.get $min) (local.get $pa))) (local.get $aB))))
        (if (i32.and (i32.ge_u (local.get $t) (i32.const 0)) (i32.lt_u (local.get $t) (i32.add (local.get $npx) (i32.const 0)))) (then (v128.store32_lane 0 (i32.add (local.get $d) (local.get $i)) (local.get $xA))))
        (if (i32.and (i32.ge_u (local.get $t) (i32.const 1)) (i32.lt_u (local.get $t) (i32.add (local.get $npx) (i32.const 1)))) (then (v128.store32_lane 1 (i32.sub (i32.add (local.get $d1) (local.get $i)) (local.get $step)) (local.get $xA))))
        (if (i32.and (i32.ge_u (local.get $t) (i32.const 2)) (i32.lt_u (local.get $t) (i32.add (local.get $npx) (i32.const 2)))) (then (v128.store32_lane 0 (i32.sub (i32.add (local.get $d2) (local.get $i)) (local.get $step2)) (local.get $xB))))
        (if (i32.and (i32.ge_u (local.get $t) (i32.const 3)) (i32.lt_u (local.get $t) (i32.add (local.get $npx) (i32.const 3)))) (then (v128.store32_lane 1 (i32.sub (i32.add (local.get $d3) (local.get $i)) (local.get $step3)) (local.get $xB))))
        (local.set $cA (local.get $bA))
        (local.set $cB (local.get $bB))
        (local.set $aA (i16x8.extend_low_i8x16_u (local.get $xA)))
        (local.set $aB (i16x8.extend_low_i8x16_u (local.get $xB)))
        ;; rows that have not begun keep a = 0 (their pixel 0 has no left neighbour)
        (if (i32.eqz (local.get $t)) (then (local.set $aA (v128.and (local.get $aA) (v128.const i64x2 -1 0)))))
        (if (i32.lt_u (local.get $t) (i32.const 2)) (then (local.set $aB (v128.const i64x2 0 0))))
        (if (i32.eq (local.get $t) (i32.const 2)) (then (local.set $aB (v128.and (local.get $aB) (v128.const i64x2 -1 0)))))
        (local.set $i (i32.add (local.get $i) (local.get $step)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $head)))
    ;; all four rows inside
    (block $body_end
      (loop $body
        (br_if $body_end (i32.ge_u (local.get $t) (local.get $npx)))
        (local.set $bA (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (i16x8.extend_low_i8x16_u (v128.load32_zero (i32.add (local.get $p) (local.get $i)))) (local.get $aA)))
        (local.set $bB (i8x16.shuffle 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 (local.get $aA) (local.get $aB)))
        (local.set $pa (i16x8.sub (local.get $bA) (local.get $cA)))
        (local.set $pb (i16x8.sub (local.get $aA) (local.get $cA)))
        (local.set $pc (i16x8.abs (i16x8.add (local.get $pa) (local.get $pb))))
        (local.set $pa (i16x8.abs (local.get $pa)))
        (local.set $pb (i16x8.abs (local.get $pb)))
        (local.set $min (i16x8.min_s (local.get $pc) (i16x8.min_s (local.get $pa) (local.get $pb))))
        (local.set $xA (i8x16.add (v128.load32_lane 1 (i32.sub (i32.add (local.get $s1) (local.get $i)) (local.get $step)) (v128.load32_zero (i32.add (local.get $s) (local.get $i)))) (i8x16.narrow_i16x8_u (v128.bitselect (local.get $aA) (v128.bitselect (local.get $bA) (local.get $cA) (i16x8.eq (local.get $min) (local.get $pb))) (i16x8.eq (local.get $min) (local.get $pa))) (local.get $aA))))
        (local.set $pa (i16x8.sub (local.get $bB) (local.get $cB)))
        (local.set $pb (i16x8.sub (local.get $aB) (local.get $cB)))
        (local.set $pc (i16x8.abs (i16x8.add (local.get $pa) (local.get $pb))))
        (local.set $pa (i16x8.abs (local.get $pa)))
        (local.set $pb (i16x8.abs (local.get $pb)))
        (local.set $min (i16x8.min_s (local.get $pc) (i16x8.min_s (local.get $pa) (local.get $pb))))
        (local.set $xB (i8x16.add (v128.load32_lane 1 (i32.sub (i32.add (local.get $s3) (local.get $i)) (local.get $step3)) (v128.load32_zero (i32.sub (i32.add (local.get $s2) (local.get $i)) (local.get $step2)))) (i8x16.narrow_i16x8_u (v128.bitselect (local.get $aB) (v128.bitselect (local.get $bB) (local.get $cB) (i16x8.eq (local.get $min) (local.get $pb))) (i16x8.eq (local.get $min) (local.get $pa))) (local.get $aB))))
        (v128.store32_lane 0 (i32.add (local.get $d) (local.get $i)) (local.get $xA))
        (v128.store32_lane 1 (i32.sub (i32.add (local.get $d1) (local.get $i)) (local.get $step)) (local.get $xA))
        (v128.store32_lane 0 (i32.sub (i32.add (local.get $d2) (local.get $i)) (local.get $step2)) (local.get $xB))
        (v128.store32_lane 1 (i32.sub (i32.add (local.get $d3) (local.get $i)) (local.get $step3)) (local.get $xB))
        (local.set $cA (local.get $bA))
        (local.set $cB (local.get $bB))
        (local.set $aA (i16x8.extend_low_i8x16_u (local.get $xA)))
        (local.set $aB (i16x8.extend_low_i8x16_u (local.get $xB)))
        (local.set $i (i32.add (local.get $i) (local.get $step)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $body)))
    ;; the last three steps
    (block $tail_end
      (loop $tail
        (br_if $tail_end (i32.ge_u (local.get $t) (i32.add (local.get $npx) (i32.const 3))))
        (local.set $bA (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (i16x8.extend_low_i8x16_u (v128.load32_zero (i32.add (local.get $p) (local.get $i)))) (local.get $aA)))
        (local.set $bB (i8x16.shuffle 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 (local.get $aA) (local.get $aB)))
        (local.set $pa (i16x8.sub (local.get $bA) (local.get $cA)))
        (local.set $pb (i16x8.sub (local.get $aA) (local.get $cA)))
        (local.set $pc (i16x8.abs (i16x8.add (local.get $pa) (local.get $pb))))
        (local.set $pa (i16x8.abs (local.get $pa)))
        (local.set $pb (i16x8.abs (local.get $pb)))
        (local.set $min (i16x8.min_s (local.get $pc) (i16x8.min_s (local.get $pa) (local.get $pb))))
        (local.set $xA (i8x16.add (v128.load32_lane 1 (i32.sub (i32.add (local.get $s1) (local.get $i)) (local.get $step)) (v128.load32_zero (i32.add (local.get $s) (local.get $i)))) (i8x16.narrow_i16x8_u (v128.bitselect (local.get $aA) (v128.bitselect (local.get $bA) (local.get $cA) (i16x8.eq (local.get $min) (local.get $pb))) (i16x8.eq (local.get $min) (local.get $pa))) (local.get $aA))))
        (local.set $pa (i16x8.sub (local.get $bB) (local.get $cB)))
        (local.set $pb (i16x8.sub (local.get $aB) (local.get $cB)))
        (local.set $pc (i16x8.abs (i16x8.add (local.get $pa) (local.get $pb))))
        (local.set $pa (i16x8.abs (local.get $pa)))
        (local.set $pb (i16x8.abs (local.get $pb)))
        (local.set $min (i16x8.min_s (local.get $pc) (i16x8.min_s (local.get $pa) (local.get $pb))))
        (local.set $xB (i8x16.add (v128.load32_lane 1 (i32.sub (i32.add (local.get $s3) (local.get $i)) (local.get $step3)) (v128.load32_zero (i32.sub (i32.add (local.get $s2) (local.get $i)) (local.get $step2)))) (i8x16.narrow_i16x8_u (v128.bitselect (local.get $aB) (v128.bitselect (local.get $bB) (local.get $cB) (i16x8.eq (local.get $min) (local.get $pb))) (i16x8.eq (local.get $min) (local.get $pa))) (local.get $aB))))
        (if (i32.and (i32.ge_u (local.get $t) (i32.const 0)) (i32.lt_u (local.get $t) (i32.add (local.get $npx) (i32.const 0)))) (then (v128.store32_lane 0 (i32.add (local.get $d) (local.get $i)) (local.get $xA))))
        (if (i32.and (i32.ge_u (local.get $t) (i32.const 1)) (i32.lt_u (local.get $t) (i32.add (local.get $npx) (i32.const 1)))) (then (v128.store32_lane 1 (i32.sub (i32.add (local.get $d1) (local.get $i)) (local.get $step)) (local.get $xA))))
        (if (i32.and (i32.ge_u (local.get $t) (i32.const 2)) (i32.lt_u (local.get $t) (i32.add (local.get $npx) (i32.const 2)))) (then (v128.store32_lane 0 (i32.sub (i32.add (local.get $d2) (local.get $i)) (local.get $step2)) (local.get $xB))))
        (if (i32.and (i32.ge_u (local.get $t) (i32.const 3)) (i32.lt_u (local.get $t) (i32.add (local.get $npx) (i32.const 3)))) (then (v128.store32_lane 1 (i32.sub (i32.add (local.get $d3) (local.get $i)) (local.get $step3)) (local.get $xB))))
        (local.set $cA (local.get $bA))
        (local.set $cB (local.get $bB))
        (local.set $aA (i16x8.extend_low_i8x16_u (local.get $xA)))
        (local.set $aB (i16x8.extend_low_i8x16_u (local.get $xB)))
        ;; rows that have not begun keep a = 0 (their pixel 0 has no left neighbour)
        (if (i32.eqz (local.get $t)) (then (local.set $aA (v128.and (local.get $aA) (v128.const i64x2 -1 0)))))
        (if (i32.lt_u (local.get $t) (i32.const 2)) (then (local.set $aB (v128.const i64x2 0 0))))
        (if (i32.eq (local.get $t) (i32.const 2)) (then (local.set $aB (v128.and (local.get $aB) (v128.const i64x2 -1 0)))))
        (local.set $i (i32.add (local.get $i) (local.get $step)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $tail)))
    ;; each later row's first byte, in case the row before wrote over it
    (i32.store8 (local.get $d1) (i32.add (i32.load8_u (local.get $s1)) (i32.load8_u (local.get $d))))
    (i32.store8 (local.get $d2) (i32.add (i32.load8_u (local.get $s2)) (i32.load8_u (local.get $d1))))
    (i32.store8 (local.get $d3) (i32.add (i32.load8_u (local.get $s3)) (i32.load8_u (local.get $d2)))))


  ;; Paeth for two consecutive rows of 3- or 4-byte pixels at once, as a
  ;; wavefront: lanes 0-3 (16-bit) hold the first row's pixel x, lanes 4-7 the
  ;; second row's pixel x - 1, whose neighbours above (the first row's pixels
  ;; x - 1 and x - 2) are already known. The two halves are independent, so
  ;; each step does two pixels in the time paeth_vec does one. The second
  ;; row's neighbours come from the step before (in registers):
  ;;   a = previous result (first row: pixel x-1; second row: pixel x-2)
  ;;   b = [row above, pixel x | previous result's first half]
  ;;   c = previous b.
  ;; Step 0 does the first row's pixel 0 only; the last step the second row's
  ;; last pixel only. Stores are 4 bytes wide, as in paeth_vec; with 3-byte
  ;; pixels the first row's last store also writes the second row's first
  ;; byte, which is put right again afterwards.
  (func $paeth_pair (param $s i32) (param $d i32) (param $n i32) (param $step i32)
    (local $i i32) (local $p i32) (local $s2 i32) (local $d2 i32)
    (local $a v128) (local $b v128) (local $c v128) (local $x v128)
    (local $pa v128) (local $pb v128) (local $pc v128) (local $min v128)
    (local.set $p (i32.sub (local.get $d) (local.get $n)))
    (local.set $s2 (i32.add (local.get $s) (i32.add (local.get $n) (i32.const 1))))
    (local.set $d2 (i32.add (local.get $d) (local.get $n)))
    ;; step 0: a = c = 0, the predictor is the byte above; the second half's
    ;; result is dropped (that pixel does not exist), so its a and c start at 0
    (local.set $b (i16x8.extend_low_i8x16_u (v128.load32_zero (local.get $p))))
    (local.set $x
      (call $paeth_step (local.get $a) (local.get $b) (local.get $c)
        (v128.load32_zero (local.get $s))))
    (v128.store32_lane 0 (local.get $d) (local.get $x))
    (local.set $a (v128.and (i16x8.extend_low_i8x16_u (local.get $x)) (v128.const i64x2 -1 0)))
    (local.set $c (local.get $b))
    (local.set $i (local.get $step))
    (block $end
      (loop $l
        (br_if $end (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $b
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (i16x8.extend_low_i8x16_u (v128.load32_zero (i32.add (local.get $p) (local.get $i))))
            (local.get $a)))
        ;; paeth_step, written out: a call here costs about a third
        (local.set $pa (i16x8.sub (local.get $b) (local.get $c)))
        (local.set $pb (i16x8.sub (local.get $a) (local.get $c)))
        (local.set $pc (i16x8.abs (i16x8.add (local.get $pa) (local.get $pb))))
        (local.set $pa (i16x8.abs (local.get $pa)))
        (local.set $pb (i16x8.abs (local.get $pb)))
        (local.set $min (i16x8.min_s (local.get $pc) (i16x8.min_s (local.get $pa) (local.get $pb))))
        (local.set $x
          (i8x16.add
            (v128.load32_lane 1
              (i32.sub (i32.add (local.get $s2) (local.get $i)) (local.get $step))
              (v128.load32_zero (i32.add (local.get $s) (local.get $i))))
            (i8x16.narrow_i16x8_u
              (v128.bitselect
                (local.get $a)
                (v128.bitselect (local.get $b) (local.get $c) (i16x8.eq (local.get $min) (local.get $pb)))
                (i16x8.eq (local.get $min) (local.get $pa)))
              (local.get $a))))
        (v128.store32_lane 0 (i32.add (local.get $d) (local.get $i)) (local.get $x))
        (v128.store32_lane 1 (i32.sub (i32.add (local.get $d2) (local.get $i)) (local.get $step)) (local.get $x))
        (local.set $a (i16x8.extend_low_i8x16_u (local.get $x)))
        (local.set $c (local.get $b))
        (local.set $i (i32.add (local.get $i) (local.get $step)))
        (br $l)))
    ;; the second row's first byte: its predictor is the byte above
    (i32.store8 (local.get $d2) (i32.add (i32.load8_u (local.get $s2)) (i32.load8_u (local.get $d))))
    ;; last step: the second row's last pixel (the first half reads bytes it does not use)
    (local.set $b
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
        (local.get $a)
        (local.get $a)))
    (local.set $x
      (call $paeth_step (local.get $a) (local.get $b) (local.get $c)
        (v128.load32_lane 1
          (i32.sub (i32.add (local.get $s2) (local.get $n)) (local.get $step))
          (v128.const i64x2 0 0))))
    (v128.store32_lane 1 (i32.sub (i32.add (local.get $d2) (local.get $n)) (local.get $step)) (local.get $x)))

  ;; One Paeth step on 16-bit lanes: the filtered bytes `f` (in the low 8
  ;; bytes) plus the predictor from a (left), b (above), c (above left);
  ;; ties favour a, then b. The result's low 8 bytes are the unfiltered bytes.
  (func $paeth_step (param $a v128) (param $b v128) (param $c v128) (param $f v128) (result v128)
    (local $pa v128) (local $pb v128) (local $pc v128) (local $min v128)
    (local.set $pa (i16x8.sub (local.get $b) (local.get $c)))
    (local.set $pb (i16x8.sub (local.get $a) (local.get $c)))
    (local.set $pc (i16x8.abs (i16x8.add (local.get $pa) (local.get $pb))))
    (local.set $pa (i16x8.abs (local.get $pa)))
    (local.set $pb (i16x8.abs (local.get $pb)))
    (local.set $min (i16x8.min_s (local.get $pc) (i16x8.min_s (local.get $pa) (local.get $pb))))
    (i8x16.add
      (local.get $f)
      (i8x16.narrow_i16x8_u
        (v128.bitselect
          (local.get $a)
          (v128.bitselect (local.get $b) (local.get $c) (i16x8.eq (local.get $min) (local.get $pb)))
          (i16x8.eq (local.get $min) (local.get $pa)))
        (local.get $a))))

  ;; RGB to RGBA with alpha 255, `count` pixels. Reads one byte past the
  ;; last pixel (the caller leaves slack there).
  (func (export "rgb_to_rgba") (param $src i32) (param $dst i32) (param $count i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $count) (i32.const 2))))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (i32.store (local.get $dst) (i32.or (i32.load (local.get $src)) (i32.const 0xff000000)))
        (local.set $src (i32.add (local.get $src) (i32.const 3)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (br $l))))

  ;; PNG scanlines with filter type 0 from `rows` rows of RGBA pixels,
  ;; `width` pixels a row: each row a 0 byte, then its RGB bytes (`rgb` = 1)
  ;; or its RGBA bytes (`rgb` = 0). RGB rows write up to 4 bytes past their
  ;; end (the caller leaves slack after the last one); a row's spill lands in
  ;; the next row's bytes, which are written after it.
  (func (export "pack_rows") (param $src i32) (param $dst i32) (param $width i32) (param $rows i32) (param $rgb i32)
    (local $end i32) (local $vend i32)
    (block $done
      (loop $row
        (br_if $done (i32.eqz (local.get $rows)))
        (i32.store8 (local.get $dst) (i32.const 0))
        (local.set $dst (i32.add (local.get $dst) (i32.const 1)))
        (local.set $end (i32.add (local.get $src) (i32.shl (local.get $width) (i32.const 2))))
        (if (local.get $rgb)
          (then
            ;; 4 pixels a step: 16 bytes in, 12 out (the store's last 4 bytes are overwritten next).
            ;; vend is below 0 for rows under 16 bytes at address 0: compared signed (memory < 2 GB)
            (local.set $vend (i32.sub (local.get $end) (i32.const 15)))
            (block $vdone
              (loop $v
                (br_if $vdone (i32.ge_s (local.get $src) (local.get $vend)))
                (v128.store (local.get $dst)
                  (i8x16.shuffle 0 1 2 4 5 6 8 9 10 12 13 14 0 0 0 0
                    (v128.load (local.get $src)) (v128.load (local.get $src))))
                (local.set $src (i32.add (local.get $src) (i32.const 16)))
                (local.set $dst (i32.add (local.get $dst) (i32.const 12)))
                (br $v)))
            (block $tdone
              (loop $t
                (br_if $tdone (i32.ge_u (local.get $src) (local.get $end)))
                (i32.store (local.get $dst) (i32.load (local.get $src)))
                (local.set $src (i32.add (local.get $src) (i32.const 4)))
                (local.set $dst (i32.add (local.get $dst) (i32.const 3)))
                (br $t))))
          (else
            (memory.copy (local.get $dst) (local.get $src) (i32.shl (local.get $width) (i32.const 2)))
            (local.set $dst (i32.add (local.get $dst) (i32.shl (local.get $width) (i32.const 2))))
            (local.set $src (local.get $end))))
        (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
        (br $row))))

  ;; zlib's adler-32 of `len` bytes at `ptr`, going on from `adler` (1 for a
  ;; new stream). 16 bytes a step: the byte sums, their sums before each
  ;; step (times 16 at the end) and the bytes weighted 16..1 in vectors,
  ;; folded into s1 and s2 once per 5552 bytes (zlib's NMAX), as i64.
  (func (export "adler32") (param $ptr i32) (param $len i32) (param $adler i32) (result i32)
    (local $s1 i64) (local $s2 i64) (local $n i32) (local $vn i32) (local $k i32) (local $end i32)
    (local $x v128) (local $vs1 v128) (local $vs2 v128) (local $vps v128)
    (local.set $s1 (i64.extend_i32_u (i32.and (local.get $adler) (i32.const 0xffff))))
    (local.set $s2 (i64.extend_i32_u (i32.shr_u (local.get $adler) (i32.const 16))))
    (block $done
      (loop $block
        (br_if $done (i32.eqz (local.get $len)))
        (local.set $n (select (i32.const 5552) (local.get $len) (i32.gt_u (local.get $len) (i32.const 5552))))
        (local.set $vn (i32.and (local.get $n) (i32.const -16)))
        (local.set $vs1 (v128.const i32x4 0 0 0 0))
        (local.set $vs2 (v128.const i32x4 0 0 0 0))
        (local.set $vps (v128.const i32x4 0 0 0 0))
        (local.set $k (i32.const 0))
        (block $vdone
          (loop $v
            (br_if $vdone (i32.ge_u (local.get $k) (local.get $vn)))
            (local.set $x (v128.load (i32.add (local.get $ptr) (local.get $k))))
            (local.set $vps (i32x4.add (local.get $vps) (local.get $vs1)))
            (local.set $vs1 (i32x4.add (local.get $vs1)
              (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (local.get $x)))))
            (local.set $vs2 (i32x4.add (local.get $vs2)
              (i32x4.add
                (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $x)) (v128.const i16x8 16 15 14 13 12 11 10 9))
                (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $x)) (v128.const i16x8 8 7 6 5 4 3 2 1)))))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $v)))
        ;; s2 += s1 * vn + 16 * sum(vps) + sum(vs2); s1 += sum(vs1)
        (local.set $s2 (i64.add (local.get $s2)
          (i64.add
            (i64.mul (local.get $s1) (i64.extend_i32_u (local.get $vn)))
            (i64.add
              (i64.shl (call $lanes (local.get $vps)) (i64.const 4))
              (call $lanes (local.get $vs2))))))
        (local.set $s1 (i64.add (local.get $s1) (call $lanes (local.get $vs1))))
        ;; the last bytes of a stream, one at a time
        (local.set $end (i32.add (local.get $ptr) (local.get $n)))
        (local.set $k (i32.add (local.get $ptr) (local.get $vn)))
        (block $tdone
          (loop $t
            (br_if $tdone (i32.ge_u (local.get $k) (local.get $end)))
            (local.set $s1 (i64.add (local.get $s1) (i64.load8_u (local.get $k))))
            (local.set $s2 (i64.add (local.get $s2) (local.get $s1)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $t)))
        (local.set $s1 (i64.rem_u (local.get $s1) (i64.const 65521)))
        (local.set $s2 (i64.rem_u (local.get $s2) (i64.const 65521)))
        (local.set $ptr (local.get $end))
        (local.set $len (i32.sub (local.get $len) (local.get $n)))
        (br $block)))
    (i32.or (i32.shl (i32.wrap_i64 (local.get $s2)) (i32.const 16)) (i32.wrap_i64 (local.get $s1))))

  ;; The sum of the four unsigned lanes of an i32x4.
  (func $lanes (param $v v128) (result i64)
    (i64.add
      (i64.add (i64.extend_i32_u (i32x4.extract_lane 0 (local.get $v))) (i64.extend_i32_u (i32x4.extract_lane 1 (local.get $v))))
      (i64.add (i64.extend_i32_u (i32x4.extract_lane 2 (local.get $v))) (i64.extend_i32_u (i32x4.extract_lane 3 (local.get $v)))))))
