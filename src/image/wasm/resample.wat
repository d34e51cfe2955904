;; Bicubic resampling of opaque RGBA images for resample.ts, 4 channels in one
;; vector. The source of resample-wasm.ts: regenerate that file with
;; `bun scripts/gen-wasm.ts` (needs wat2wasm: apt-get install wabt).
;;
;; Memory layout, set up by the caller (all offsets are byte addresses):
;;   0     WX: 256 sub-pixel positions x 32 bytes, the 4 horizontal cubic
;;         weights as i16, arranged for i32x4.dot_i16x8_s: w0 w1 w0 w1 w0 w1
;;         w0 w1, then w2 w3 w2 w3 w2 w3 w2 w3 (11 fraction bits, each set
;;         summing to exactly 2048)
;;   8192  WY: 256 x 16 bytes, the same weights as 4 x i32
;;   then  the source, padded by PAD (3) pixels on every side with copies of
;;         its edge pixels, so that every tap is a plain load (an edge pixel
;;         repeated, as a clamped index would give)
;; The span and row functions write RGBA bytes to `out`.
;;
;; A row of 4 taps: the 16 bytes of 4 consecutive pixels are shuffled to
;; r0 r1 g0 g1 b0 b1 a0 a1 | r2 r3 g2 g3 b2 b3 a2 a3, widened to i16 and
;; multiplied pairwise with the weights (i32x4.dot_i16x8_s), which gives
;; w0 p0 + w1 p1 + w2 p2 + w3 p3 per channel as i32x4 (r, g, b, a).
;;
;; With weights summing to 2048 on each axis the 16-tap sum of 8-bit values
;; stays below 2560^2 * 255 (1.5625 * 2^22 * 255) < 2^31: it is computed exactly in i32, so the
;; result does not depend on the order of the passes. resample.ts computes
;; the same integers in JS where this module is not used.

(module
  (memory (export "memory") 1)

  ;; 1 when every pixel in [ptr, ptr + 4 * count) has alpha 255, else 0.
  ;; Reads in 16-byte steps; count must be a multiple of 4 or the bytes up
  ;; to the next multiple of 16 opaque copies (the caller pads).
  (func (export "opaque") (param $ptr i32) (param $count i32) (result i32)
    (local $end i32) (local $acc v128)
    (local.set $acc (v128.const i32x4 -1 -1 -1 -1))
    (local.set $end (i32.add (local.get $ptr) (i32.shl (local.get $count) (i32.const 2))))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $ptr) (local.get $end)))
        (local.set $acc (v128.and (local.get $acc) (v128.load (local.get $ptr))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 16)))
        (br $l)))
    (i32x4.all_true
      (i32x4.eq
        (v128.and (local.get $acc) (v128.const i32x4 0xff000000 0xff000000 0xff000000 0xff000000))
        (v128.const i32x4 0xff000000 0xff000000 0xff000000 0xff000000))))

  ;; Bicubic samples along a straight line: n pixels, the first at fixed-point
  ;; source position (fx, fy) (fb fraction bits, already shifted by half a
  ;; pixel to the tap grid), stepping (fdx, fdy). src is the padded source's
  ;; pixel (0, 0), stride its row length in bytes; positions beyond the
  ;; source repeat its edge, as clamped taps do.
  (func (export "span")
    (param $src i32) (param $stride i32) (param $maxX i32) (param $maxY i32) (param $out i32) (param $n i32)
    (param $fx i32) (param $fy i32) (param $fdx i32) (param $fdy i32) (param $fb i32)
    (local $end i32) (local $fs i32) (local $xf i32) (local $yf i32) (local $p i32)
    (local $wa v128) (local $wb v128) (local $wy i32) (local $acc v128) (local $v v128)
    (local.set $fs (i32.sub (local.get $fb) (i32.const 8)))
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
        ;; integer pixel, clamped to [-2, max + 1]: beyond that all 4 taps are the edge anyway
        (local.set $xf (i32.shr_s (local.get $fx) (local.get $fb)))
        (local.set $xf (select (i32.const -2) (local.get $xf) (i32.lt_s (local.get $xf) (i32.const -2))))
        (local.set $xf (select (i32.add (local.get $maxX) (i32.const 1)) (local.get $xf) (i32.gt_s (local.get $xf) (i32.add (local.get $maxX) (i32.const 1)))))
        (local.set $yf (i32.shr_s (local.get $fy) (local.get $fb)))
        (local.set $yf (select (i32.const -2) (local.get $yf) (i32.lt_s (local.get $yf) (i32.const -2))))
        (local.set $yf (select (i32.add (local.get $maxY) (i32.const 1)) (local.get $yf) (i32.gt_s (local.get $yf) (i32.add (local.get $maxY) (i32.const 1)))))
        (local.set $p (i32.and (i32.shr_s (local.get $fx) (local.get $fs)) (i32.const 255)))
        (local.set $wa (v128.load (i32.shl (local.get $p) (i32.const 5))))
        (local.set $wb (v128.load offset=16 (i32.shl (local.get $p) (i32.const 5))))
        (local.set $wy (i32.add (i32.const 8192) (i32.shl (i32.and (i32.shr_s (local.get $fy) (local.get $fs)) (i32.const 255)) (i32.const 4))))
        ;; the top-left tap (xf - 1, yf - 1)
        (local.set $p
          (i32.add (local.get $src)
            (i32.add
              (i32.mul (i32.sub (local.get $yf) (i32.const 1)) (local.get $stride))
              (i32.shl (i32.sub (local.get $xf) (i32.const 1)) (i32.const 2)))))
        (local.set $acc (i32x4.mul (i32x4.add
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.tee $v (i8x16.shuffle 0 4 1 5 2 6 3 7 8 12 9 13 10 14 11 15 (v128.load (local.get $p)) (local.get $wa)))) (local.get $wa))
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $v)) (local.get $wb))) (v128.load32_splat (local.get $wy))))
        (local.set $p (i32.add (local.get $p) (local.get $stride)))
        (local.set $acc (i32x4.add (local.get $acc) (i32x4.mul (i32x4.add
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.tee $v (i8x16.shuffle 0 4 1 5 2 6 3 7 8 12 9 13 10 14 11 15 (v128.load (local.get $p)) (local.get $wa)))) (local.get $wa))
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $v)) (local.get $wb))) (v128.load32_splat offset=4 (local.get $wy)))))
        (local.set $p (i32.add (local.get $p) (local.get $stride)))
        (local.set $acc (i32x4.add (local.get $acc) (i32x4.mul (i32x4.add
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.tee $v (i8x16.shuffle 0 4 1 5 2 6 3 7 8 12 9 13 10 14 11 15 (v128.load (local.get $p)) (local.get $wa)))) (local.get $wa))
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $v)) (local.get $wb))) (v128.load32_splat offset=8 (local.get $wy)))))
        (local.set $p (i32.add (local.get $p) (local.get $stride)))
        (local.set $acc (i32x4.add (local.get $acc) (i32x4.mul (i32x4.add
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.tee $v (i8x16.shuffle 0 4 1 5 2 6 3 7 8 12 9 13 10 14 11 15 (v128.load (local.get $p)) (local.get $wa)))) (local.get $wa))
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $v)) (local.get $wb))) (v128.load32_splat offset=12 (local.get $wy)))))
        (local.set $v (i32x4.shr_s (i32x4.add (local.get $acc) (v128.const i32x4 0x200000 0x200000 0x200000 0x200000)) (i32.const 22)))
        ;; saturating narrows clamp the cubic's overshoot to 0..255
        (local.set $v (i16x8.narrow_i32x4_s (local.get $v) (local.get $v)))
        (v128.store32_lane 0 (local.get $out) (i8x16.narrow_i16x8_u (local.get $v) (local.get $v)))
        (local.set $fx (i32.add (local.get $fx) (local.get $fdx)))
        (local.set $fy (i32.add (local.get $fy) (local.get $fdy)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br $l))))

  ;; Extent transform, horizontal pass of one source row (`row` is its padded
  ;; pixel (0, 0)): for destination columns [x0, x1), the 4 taps starting at
  ;; byte offset offs[x] of the row with i16 weights wts[x] (32 bytes, laid
  ;; out like WX, 14 fraction bits), rounded to 7 fraction bits, as i32x4
  ;; into out[x] (16 bytes a column). Returns 1 when every tap was opaque.
  (func (export "hrow") (param $row i32) (param $x0 i32) (param $x1 i32) (param $offs i32) (param $wts i32) (param $out i32) (result i32)
    (local $x i32) (local $v v128) (local $acc v128) (local $s v128) (local $w i32)
    (local.set $acc (v128.const i32x4 -1 -1 -1 -1))
    (local.set $x (local.get $x0))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $x) (local.get $x1)))
        (local.set $v (v128.load (i32.add (local.get $row) (i32.load (i32.add (local.get $offs) (i32.shl (local.get $x) (i32.const 2)))))))
        (local.set $acc (v128.and (local.get $acc) (local.get $v)))
        (local.set $s (i8x16.shuffle 0 4 1 5 2 6 3 7 8 12 9 13 10 14 11 15 (local.get $v) (local.get $v)))
        (local.set $w (i32.add (local.get $wts) (i32.shl (local.get $x) (i32.const 5))))
        (v128.store
          (i32.add (local.get $out) (i32.shl (local.get $x) (i32.const 4)))
          (i32x4.shr_s
            (i32x4.add
              (i32x4.add
                (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $s)) (v128.load (local.get $w)))
                (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $s)) (v128.load offset=16 (local.get $w))))
              (v128.const i32x4 64 64 64 64))
            (i32.const 7)))
        (local.set $x (i32.add (local.get $x) (i32.const 1)))
        (br $l)))
    (i32x4.all_true
      (i32x4.eq
        (v128.and (local.get $acc) (v128.const i32x4 0xff000000 0xff000000 0xff000000 0xff000000))
        (v128.const i32x4 0xff000000 0xff000000 0xff000000 0xff000000))))

  ;; Extent transform, vertical pass: destination pixels [x0, x1) of one row
  ;; from 4 rows of hrow output (r0..r3) with i32 weights w0..w3 (14 fraction
  ;; bits), rounded, clamped to 0..255, as RGBA bytes into out[x].
  (func (export "vrow")
    (param $r0 i32) (param $r1 i32) (param $r2 i32) (param $r3 i32)
    (param $w0 i32) (param $w1 i32) (param $w2 i32) (param $w3 i32)
    (param $x0 i32) (param $x1 i32) (param $out i32)
    (local $x i32) (local $o i32) (local $v v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local.set $s0 (i32x4.splat (local.get $w0)))
    (local.set $s1 (i32x4.splat (local.get $w1)))
    (local.set $s2 (i32x4.splat (local.get $w2)))
    (local.set $s3 (i32x4.splat (local.get $w3)))
    (local.set $x (local.get $x0))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $x) (local.get $x1)))
        (local.set $o (i32.shl (local.get $x) (i32.const 4)))
        (local.set $v
          (i32x4.shr_s
            (i32x4.add
              (i32x4.add
                (i32x4.add
                  (i32x4.mul (v128.load (i32.add (local.get $r0) (local.get $o))) (local.get $s0))
                  (i32x4.mul (v128.load (i32.add (local.get $r1) (local.get $o))) (local.get $s1)))
                (i32x4.add
                  (i32x4.mul (v128.load (i32.add (local.get $r2) (local.get $o))) (local.get $s2))
                  (i32x4.mul (v128.load (i32.add (local.get $r3) (local.get $o))) (local.get $s3))))
              (v128.const i32x4 0x100000 0x100000 0x100000 0x100000))
            (i32.const 21)))
        (local.set $v (i16x8.narrow_i32x4_s (local.get $v) (local.get $v)))
        (v128.store32_lane 0
          (i32.add (local.get $out) (i32.shl (local.get $x) (i32.const 2)))
          (i8x16.narrow_i16x8_u (local.get $v) (local.get $v)))
        (local.set $x (i32.add (local.get $x) (i32.const 1)))
        (br $l)))))
