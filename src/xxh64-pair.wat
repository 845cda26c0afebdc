;; The digest behind hash(): two XXH64 digests of the same bytes, with two seeds, in one pass.
;;
;; Each 8-byte lane is read once and multiplied by PRIME64_2 once for both digests, and a whole
;; update or digest is one call from JavaScript: hashing a small argument list costs a few calls,
;; not the dozen a general-purpose hasher's JavaScript wrapper makes.
;;
;; Memory (2 pages, never grown, so that views of it stay valid):
;;   [0, 65536)       input: the caller writes up to 65536 bytes here, then calls update(n)
;;   [65536, 65648)   the running state, which save and load copy in JavaScript:
;;     65536          the four accumulators of digest A (i64 each), then 65568 those of digest B
;;     65600          bytes taken in all (i64)
;;     65608          bytes waiting in the tail buffer (i32)
;;     65616          the tail buffer: bytes short of a 32-byte stripe (32 bytes)
;;   65648, 65656     seeds A and B (i64), set once by seed()
;;   [65664, 65680)   the digest written by digest(): A then B, each big-endian
;;
;; The primes of XXH64: P1 0x9E3779B185EBCA87, P2 0xC2B2AE3D27D4EB4F, P3 0x165667B19E3779F9,
;; P4 0x85EBCA77C2B2AE63, P5 0x27D4EB2F165667C5 (written out where used: wasm has no named constants
;; that compile to immediates).
(module
  (memory (export "memory") 2 2)

  ;; Sets the two seeds, each as its high and low 32 bits (JavaScript passes no i64 without BigInt).
  (func (export "seed") (param $aHigh i32) (param $aLow i32) (param $bHigh i32) (param $bLow i32)
    (i64.store (i32.const 65648) (call $join (local.get $aHigh) (local.get $aLow)))
    (i64.store (i32.const 65656) (call $join (local.get $bHigh) (local.get $bLow))))

  (func $join (param $high i32) (param $low i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $high)) (i64.const 32)) (i64.extend_i32_u (local.get $low))))

  ;; Starts both digests anew.
  (func (export "reset")
    (call $start (i32.const 65536) (i64.load (i32.const 65648)))
    (call $start (i32.const 65568) (i64.load (i32.const 65656)))
    (i64.store (i32.const 65600) (i64.const 0))
    (i32.store (i32.const 65608) (i32.const 0)))

  ;; Accumulators of one digest: seed + P1 + P2, seed + P2, seed, seed - P1.
  (func $start (param $at i32) (param $seed i64)
    (i64.store offset=0 (local.get $at)
      (i64.add (i64.add (local.get $seed) (i64.const 0x9E3779B185EBCA87)) (i64.const 0xC2B2AE3D27D4EB4F)))
    (i64.store offset=8 (local.get $at) (i64.add (local.get $seed) (i64.const 0xC2B2AE3D27D4EB4F)))
    (i64.store offset=16 (local.get $at) (local.get $seed))
    (i64.store offset=24 (local.get $at) (i64.sub (local.get $seed) (i64.const 0x9E3779B185EBCA87))))

  ;; Takes the first n bytes of the input.
  (func (export "update") (param $n i32)
    (local $held i32) (local $p i32) (local $end i32)
    (i64.store (i32.const 65600) (i64.add (i64.load (i32.const 65600)) (i64.extend_i32_u (local.get $n))))
    (local.set $held (i32.load (i32.const 65608)))
    ;; Still short of a stripe: the bytes wait in the tail buffer.
    (if (i32.lt_u (i32.add (local.get $held) (local.get $n)) (i32.const 32))
      (then
        (memory.copy (i32.add (i32.const 65616) (local.get $held)) (i32.const 0) (local.get $n))
        (i32.store (i32.const 65608) (i32.add (local.get $held) (local.get $n)))
        (return)))
    ;; Complete the waiting stripe first.
    (if (local.get $held)
      (then
        (local.set $p (i32.sub (i32.const 32) (local.get $held)))
        (memory.copy (i32.add (i32.const 65616) (local.get $held)) (i32.const 0) (local.get $p))
        (call $stripes (i32.const 65616) (i32.const 65648))))
    (local.set $end (i32.add (local.get $p) (i32.and (i32.sub (local.get $n) (local.get $p)) (i32.const -32))))
    (call $stripes (local.get $p) (local.get $end))
    (local.set $held (i32.sub (local.get $n) (local.get $end)))
    (memory.copy (i32.const 65616) (local.get $end) (local.get $held))
    (i32.store (i32.const 65608) (local.get $held)))

  ;; The 32-byte stripes of [p, end) into both digests' accumulators. One round per lane and
  ;; digest: acc = rotl(acc + lane * P2, 31) * P1, with lane * P2 shared by the two.
  (func $stripes (param $p i32) (param $end i32)
    (local $a1 i64) (local $a2 i64) (local $a3 i64) (local $a4 i64)
    (local $b1 i64) (local $b2 i64) (local $b3 i64) (local $b4 i64) (local $m i64)
    (local.set $a1 (i64.load (i32.const 65536)))
    (local.set $a2 (i64.load (i32.const 65544)))
    (local.set $a3 (i64.load (i32.const 65552)))
    (local.set $a4 (i64.load (i32.const 65560)))
    (local.set $b1 (i64.load (i32.const 65568)))
    (local.set $b2 (i64.load (i32.const 65576)))
    (local.set $b3 (i64.load (i32.const 65584)))
    (local.set $b4 (i64.load (i32.const 65592)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $m (i64.mul (i64.load offset=0 (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F)))
        (local.set $a1 (i64.mul (i64.rotl (i64.add (local.get $a1) (local.get $m)) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
        (local.set $b1 (i64.mul (i64.rotl (i64.add (local.get $b1) (local.get $m)) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
        (local.set $m (i64.mul (i64.load offset=8 (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F)))
        (local.set $a2 (i64.mul (i64.rotl (i64.add (local.get $a2) (local.get $m)) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
        (local.set $b2 (i64.mul (i64.rotl (i64.add (local.get $b2) (local.get $m)) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
        (local.set $m (i64.mul (i64.load offset=16 (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F)))
        (local.set $a3 (i64.mul (i64.rotl (i64.add (local.get $a3) (local.get $m)) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
        (local.set $b3 (i64.mul (i64.rotl (i64.add (local.get $b3) (local.get $m)) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
        (local.set $m (i64.mul (i64.load offset=24 (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F)))
        (local.set $a4 (i64.mul (i64.rotl (i64.add (local.get $a4) (local.get $m)) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
        (local.set $b4 (i64.mul (i64.rotl (i64.add (local.get $b4) (local.get $m)) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
        (local.set $p (i32.add (local.get $p) (i32.const 32)))
        (br $next)))
    (i64.store (i32.const 65536) (local.get $a1))
    (i64.store (i32.const 65544) (local.get $a2))
    (i64.store (i32.const 65552) (local.get $a3))
    (i64.store (i32.const 65560) (local.get $a4))
    (i64.store (i32.const 65568) (local.get $b1))
    (i64.store (i32.const 65576) (local.get $b2))
    (i64.store (i32.const 65584) (local.get $b3))
    (i64.store (i32.const 65592) (local.get $b4)))

  ;; Writes both digests at 65664, leaving the state as it was (more bytes may follow).
  (func (export "digest")
    (call $bigEndian (i32.const 65664) (call $final (i32.const 65536) (i64.load (i32.const 65648))))
    (call $bigEndian (i32.const 65672) (call $final (i32.const 65568) (i64.load (i32.const 65656)))))

  ;; rotl(acc + input * P2, 31) * P1
  (func $round (param $acc i64) (param $input i64) (result i64)
    (i64.mul
      (i64.rotl (i64.add (local.get $acc) (i64.mul (local.get $input) (i64.const 0xC2B2AE3D27D4EB4F))) (i64.const 31))
      (i64.const 0x9E3779B185EBCA87)))

  ;; (h ^ round(0, v)) * P1 + P4
  (func $merge (param $h i64) (param $v i64) (result i64)
    (i64.add
      (i64.mul (i64.xor (local.get $h) (call $round (i64.const 0) (local.get $v))) (i64.const 0x9E3779B185EBCA87))
      (i64.const 0x85EBCA77C2B2AE63)))

  ;; The digest of the accumulators at $acc (and the shared total and tail), as XXH64 finishes it.
  (func $final (param $acc i32) (param $seed i64) (result i64)
    (local $h i64) (local $total i64) (local $p i32) (local $end i32)
    (local $v1 i64) (local $v2 i64) (local $v3 i64) (local $v4 i64)
    (local.set $total (i64.load (i32.const 65600)))
    (if (i64.ge_u (local.get $total) (i64.const 32))
      (then
        (local.set $v1 (i64.load offset=0 (local.get $acc)))
        (local.set $v2 (i64.load offset=8 (local.get $acc)))
        (local.set $v3 (i64.load offset=16 (local.get $acc)))
        (local.set $v4 (i64.load offset=24 (local.get $acc)))
        (local.set $h
          (i64.add
            (i64.add (i64.rotl (local.get $v1) (i64.const 1)) (i64.rotl (local.get $v2) (i64.const 7)))
            (i64.add (i64.rotl (local.get $v3) (i64.const 12)) (i64.rotl (local.get $v4) (i64.const 18)))))
        (local.set $h (call $merge (local.get $h) (local.get $v1)))
        (local.set $h (call $merge (local.get $h) (local.get $v2)))
        (local.set $h (call $merge (local.get $h) (local.get $v3)))
        (local.set $h (call $merge (local.get $h) (local.get $v4))))
      (else
        (local.set $h (i64.add (local.get $seed) (i64.const 0x27D4EB2F165667C5)))))
    (local.set $h (i64.add (local.get $h) (local.get $total)))
    (local.set $p (i32.const 65616))
    (local.set $end (i32.add (i32.const 65616) (i32.load (i32.const 65608))))
    ;; The tail: 8 bytes, then 4, then one at a time.
    (block $done8
      (loop $next8
        (br_if $done8 (i32.gt_u (i32.add (local.get $p) (i32.const 8)) (local.get $end)))
        (local.set $h
          (i64.add
            (i64.mul
              (i64.rotl (i64.xor (local.get $h) (call $round (i64.const 0) (i64.load (local.get $p)))) (i64.const 27))
              (i64.const 0x9E3779B185EBCA87))
            (i64.const 0x85EBCA77C2B2AE63)))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $next8)))
    (if (i32.le_u (i32.add (local.get $p) (i32.const 4)) (local.get $end))
      (then
        (local.set $h
          (i64.add
            (i64.mul
              (i64.rotl
                (i64.xor (local.get $h) (i64.mul (i64.load32_u (local.get $p)) (i64.const 0x9E3779B185EBCA87)))
                (i64.const 23))
              (i64.const 0xC2B2AE3D27D4EB4F))
            (i64.const 0x165667B19E3779F9)))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))))
    (block $done1
      (loop $next1
        (br_if $done1 (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $h
          (i64.mul
            (i64.rotl
              (i64.xor (local.get $h) (i64.mul (i64.load8_u (local.get $p)) (i64.const 0x27D4EB2F165667C5)))
              (i64.const 11))
            (i64.const 0x9E3779B185EBCA87)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next1)))
    ;; Avalanche.
    (local.set $h (i64.mul (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 33))) (i64.const 0xC2B2AE3D27D4EB4F)))
    (local.set $h (i64.mul (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 29))) (i64.const 0x165667B19E3779F9)))
    (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 32))))

  ;; x at [at, at + 8), most significant byte first (the order the hex digest is read in).
  (func $bigEndian (param $at i32) (param $x i64)
    (i64.store8 offset=0 (local.get $at) (i64.shr_u (local.get $x) (i64.const 56)))
    (i64.store8 offset=1 (local.get $at) (i64.shr_u (local.get $x) (i64.const 48)))
    (i64.store8 offset=2 (local.get $at) (i64.shr_u (local.get $x) (i64.const 40)))
    (i64.store8 offset=3 (local.get $at) (i64.shr_u (local.get $x) (i64.const 32)))
    (i64.store8 offset=4 (local.get $at) (i64.shr_u (local.get $x) (i64.const 24)))
    (i64.store8 offset=5 (local.get $at) (i64.shr_u (local.get $x) (i64.const 16)))
    (i64.store8 offset=6 (local.get $at) (i64.shr_u (local.get $x) (i64.const 8)))
    (i64.store8 offset=7 (local.get $at) (local.get $x))))
