//! Independent test vectors for [`onion::ntor`] and [`onion::cell`].
//!
//! The expected values below were produced by `onion/tests/vectors/gen.py`,
//! a Python reference implementation written from the module docs of
//! ntor.rs and cell.rs with the `cryptography` package only (no shared
//! code). These tests feed the same fixed inputs to the Rust code through
//! the public API, injecting fixed "random" bytes with [`Fixed`], and
//! compare. If an input here changes, change it in gen.py too and paste
//! its output over the constants block.

use onion::cell::{self, BODY_LEN, PAYLOAD_LEN};
use onion::ntor::{self, HopKeys, DIGEST_LEN};
use onion::{Identity, OnionKey};
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------
// Expected values: produced by onion/tests/vectors/gen.py (python3
// onion/tests/vectors/gen.py prints exactly this block).
// ---------------------------------------------------------------------------
// Produced by onion/tests/vectors/gen.py; do not edit by hand.
// ntor: per hop 1..3
const NTOR1_NODE_ID: &str = "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664";
const NTOR1_B: &str = "244fe3b963e899dd295baffce248d3530f3a9a7479ba063002680ebfe7adad49";
const NTOR1_CREATE: &str =
    "e3b37b6a7c31a6816bfa999fc547760d6799ebdf667fd891cdde7e775e11ef2c244fe3b9";
const NTOR1_CREATED: &str = "b9b570a45aca51f539e66c45dafd68b1f8c9c0e406194c94a2ade3c924964a109befbe62e442bc2d1845b2adc7225cf7758068464596d15a8aec78bb4e61a5ef";
const NTOR1_FORWARD: &str = "3d39c6e89137250796cc36799b59a4d9491dc0aa0fb6da7681a49a129eb6bfd5";
const NTOR1_BACKWARD: &str = "f9a0c74eb770983b84781c921c80fac1c6180065afe018b818396c080d1dbd51";
const NTOR1_FORWARD_PAD: &str = "9e58bfd50e8b8aa58e666562badb4fb1a01e60a504508d06fad794f1fdeffd38";
const NTOR1_BACKWARD_PAD: &str = "d19e761b291d274163a890d7eaec8eaf7f30447b46f7fb6c620477b440b2b4c7";
const NTOR1_DIGEST: &str = "060427c75fb4b0ca";
const NTOR1_FORWARD_HP: &str = "e63861d5002f44abdecbe7aeeb264e60924a49b7174eaaac741243bc7cdeb4ca";
const NTOR1_BACKWARD_HP: &str = "c77575df0272c7bec9e13ecb92689121dd8662893af8330eaf257761f720f3f1";
const NTOR2_NODE_ID: &str = "e7f162a10bec559afea195e4dce84b69568d5d2cb0963eb446c0685e2b17f2f0";
const NTOR2_B: &str = "883186b800b41d5cf0429695da9b3cc4f328ebcd184a6e482fa578c103f06c77";
const NTOR2_CREATE: &str =
    "0a4001cac6dfb43f7e9debdf7d25848ac939184afa6ee864656923c679e6542a883186b8";
const NTOR2_CREATED: &str = "b0e5de98a1cb3eef8cabeee1bd76927a07e9768df00e4fe1eb1f6856c238d7235573e4fc5c1fc06e730f8922df37f402650af233e85a346d0a1246217c816471";
const NTOR2_FORWARD: &str = "e1f25998a9383aa85b546c79b6519984c74428d45f7de27f694e9e7f4c211d3b";
const NTOR2_BACKWARD: &str = "ef07f9607ea8e74ee63478bea53ceb275d31f92ee15f833be97ccdeae7e2d074";
const NTOR2_FORWARD_PAD: &str = "6254929dd1c6591424aebe97ec213371c6b13897d9987df4c0b633880289c925";
const NTOR2_BACKWARD_PAD: &str = "48fcd657f49955298e561c647ae01acafd6aeb797564bf8bf74d0a6181c2fd19";
const NTOR2_DIGEST: &str = "435b23769e6a8798";
const NTOR2_FORWARD_HP: &str = "42657f3be53a080a9bded486c7ed2797d358423e10f30f8a6e70ce487532eb77";
const NTOR2_BACKWARD_HP: &str = "a5895d89ca69c9b96d3a01ec054bf8ceed055f7f6f614155e72f126bee7b4837";
const NTOR3_NODE_ID: &str = "adc14011f82d1c56d956aa4f9d73d8858361a606048525e0d08c638dc75dd8c7";
const NTOR3_B: &str = "ad438bfae31f6c093d61d4339255ea798092c9fadd07b97827f4b0ae9dee7c1c";
const NTOR3_CREATE: &str =
    "9d82dde5928a8af8780477f711a7c39699080014f2637cc3f1d8f67e04f37205ad438bfa";
const NTOR3_CREATED: &str = "ce4efe40df41a88cf792ef6f75a4e698888711c4c660b6675d613b5e7ee0517da6f5daff9db7aa88b95d2bce9e9fccdb7426fea9fa93c0ebba3cab54fb28d0e4";
const NTOR3_FORWARD: &str = "ef5be37a6f1f6f0059c358e94c95b2025f352eb043797af7c65051541fad0131";
const NTOR3_BACKWARD: &str = "26d532ed91694d0f46369778cc3d646a0977ef6e8d5c8de6dc475ecafc9736b9";
const NTOR3_FORWARD_PAD: &str = "5583636ccdf0b13672d636f2f27f60a30ccd2612588c06bc02a52d7ccea57baf";
const NTOR3_BACKWARD_PAD: &str = "50724ffef827b89b9ac03f1814587c957e02af1f9dfc0f3ceb4d27fb43519cac";
const NTOR3_DIGEST: &str = "8586dbee16cfb0f3";
const NTOR3_FORWARD_HP: &str = "6d2b3dae8c2e68ec77657e6a600a30ff3ae47bf94e607a5aa4762f710d045fad";
const NTOR3_BACKWARD_HP: &str = "2f902765769ee08194863fa26ddd9ad7d81279787477a1c964896be32e85d092";
// forward cell, 3 hops: the body the client builds, then after
// hop_forward at hop 1, 2 and 3 (the destination)
const FWD_CLIENT_HEAD: &str = "ce19e76b4e6fae929291626b2d658fd9180834cbb3120cbfd2a0b876236d8bf1b20536a264872cb0b1bed72706fa7192af0ec3f960e2488eb1137e8da630f53964d5a4ba0e39e89a64616cdc61a3c271a6b95b523451ca229435296f9bb0430c7caf6f6f2ca2d74345b7876bf4add2097360da99389a87fe04029a057ac6452362563a6360775addcd690297e6bd979be9d7c24ac3dcbdaec8ee2bc2a7833212a7e4551d1aa611346882d6f6f39afa86856bf7342a3dfcd2279c3b595d173173fae8eb0ae36b59a4";
const FWD_CLIENT_SHA256: &str = "2bda3535301eea01bf45a9719cf14edff4046b037a16b0e127a1edbf7d927dbf";
const FWD_AFTER_HOP1_HEAD: &str = "ea41e86902bef0831a6d44cd62e8a8439c3b7fb3953d247e6cb09cf80b272cc72f5e17bdc5119a172822461304fadb68ab3a983766f93030f202ea65eff4a6482de82cae57da5cc2389b392a610ece51d7e73537bfbc1c710d745d24477f7cf8783e9745b798c554c303e0a8e471f5b536f711e6223e3b0692279703ad6860589e950662adde10f98d1f818a7fec81c66c644398ef0ca035d1c9f46d488955fa575998f7e90f54dff9fb511c6cdcf965b1bfbbe1f2f70a17f4acce4458733a3af691006bed1799a4";
const FWD_AFTER_HOP1_SHA256: &str =
    "fdac9f1241ad87cc4aa126be9b38ee23a0023c7730795733a5c52977b766603d";
const FWD_AFTER_HOP2_HEAD: &str = "3fc130721f1d90e969c637539acec84bb538d53f8a04034f037caa630a65e6a50f68f254da41488819309151d2f47caee20999c4807df80a5b75c18fd666deab6f0020205db9ede438e36820a99dff7f37bf760c749a3664de811afa3520d89c5e54dff8dc7d1aa432d9793065478fea3c5c3eedd8218365dfcaf72f7b2f8175f06193ac9aab9b984374d4a87b59233271122ceee404a4d458bde9086f96d132b986da13f62b080f273d1c4aebc0491f6b44a51ea911d60d64a54b3cfc0b9bbd23802b31f5998027";
const FWD_AFTER_HOP2_SHA256: &str =
    "2067e44fa37649a3ad625dfde79b27b8198358f109c965a49a2a699f72ee611d";
const FWD_AFTER_HOP3_HEAD: &str = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfefff51f6d780344b78dc2d8bd51045c09c17d0db28848f5cccde58929179d626b480b4c9e87e14324b631dfdef82f32f1e33977ec750cdf5359f126f9d817320ec3803bc4b9fb1461f3030a11181f262d343b424950575e656c737a81888f969da4abb2b9c0c7ced5dc";
const FWD_AFTER_HOP3_SHA256: &str =
    "f1b0370428f1505079b1d9f51a0b5e8549c9c74f8e4155f42d15ad35e8ea1a95";
// backward cell: after dest_backward (hop 3), then relay_backward
// at hop 2 and at hop 1
const BWD_AFTER_DEST_HEAD: &str = "d6847fef091b48840436869d700592f76ef1cdbafe16b5856eae0fbe856d77e0fff7beaf0712d9a2bf126acdd626530cf514c3b797a1b8a72e1a7860934a7f7335e2c8b6683db786d225ac747f551794ee0be4ea9efbd35e21017a0aa600bae1d342057cfd92e3efb64c0da9faa908cad553d99c0bc7f7c64057b3ee94db0bc36ff7a91bf953426bbfad8b725eabcf39570684aa7d3529c2f6228b5021ef923b193090bbd8e789f34db7678ab7cb09c1fd9e96642d7e5dd05f33b847b517e16efe9b5a73880e6912";
const BWD_AFTER_DEST_SHA256: &str =
    "78a350f1a035c70d63756e4d054f7f3d7c942fc9525e29301e25c60f292fdf49";
const BWD_AFTER_RELAY2_HEAD: &str = "b451eb1884f154b8e515951ca8d7da6c5adb6f3703c4bd0643164cdee7c66f3b5e0f1356afad28b077ff0a5c7a8d24ea8a3d5819348ba1d84faf5fc4baebe1d7e5074f311d2bccc199182851d92031e1c6d70d7ebbaad7156fecdc58be8cf4ea15d98700f258a1a46d6139f50af444b47142bee03438f0a8fe2d239793488ff83eef7f51b0ccdace8c7ecc296f2273ffbd0e8351297ed6abfe0eb5bbe5cfe0162dc5cd187f1aab778a4210180c0bc9103e4ab5bb00c0cbcf86e23414bc270c834ddaf5f8dda3ee9f";
const BWD_AFTER_RELAY2_SHA256: &str =
    "c39d0da855f563359f2f30e30eaed393f383b37a0de633da50c69b54e3a1fcb6";
const BWD_AFTER_RELAY1_HEAD: &str = "85f5d5e03b2fc8f5dd80e6c3c85a76bac4cef5a88f3f3d0d61d1245e4d4057215de7f9f31b5f920bce96e14f400ea8b4e973e11398c28f0fad8b4ae077a14677163a81a86225f926b08e19740acb4090e3d3651344ad34906e4dbd6c9e54eec66e43ffd4565f3df49e89f6c2b8656d648d40a81713c1d00f60c87fc7c528764300aadb3d9883536995523ddee464f04c2b1d8f5fece9f22426d0417d95c054e98e0e2dcbf9ae82c6f46ccc7dba2621e73eff675d04e15d567e9f3db672c517da206450cae39708d8";
const BWD_AFTER_RELAY1_SHA256: &str =
    "0b40f078876fafe69351c77ea6a087d85746a7ab586c788e98799853434748ac";
const BWD_CLIENT_PAYLOAD_SHA256: &str =
    "6e6fe417ce4b460bdf2b6f6dbb582bbfcd130e0203f7436bdd89c08618fdf627";
const BWD_CLIENT_NONCE: u64 = 0x0123456789abcdef;

// ---------------------------------------------------------------------------
// Inputs: the same as gen.py's INPUTS section.
// ---------------------------------------------------------------------------

/// `n` bytes `start, start + step, …` (mod 256), as gen.py's `pat`.
fn pat(start: u8, step: u8, n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| start.wrapping_add(step.wrapping_mul(i as u8)))
        .collect()
}

fn pat32(start: u8, step: u8) -> [u8; 32] {
    pat(start, step, 32).try_into().unwrap()
}

/// Hop `h` = 1..=3: ed25519 identity seed.
fn id_seed(h: u8) -> [u8; 32] {
    pat32(0x01 + 0x20 * (h - 1), 1)
}
/// Hop `h`: x25519 onion key secret `b`.
fn onion_secret(h: u8) -> [u8; 32] {
    pat32(0x61 + 0x20 * (h - 1), 1)
}
/// Hop `h`: the client's ephemeral `x`.
fn client_x(h: u8) -> [u8; 32] {
    pat32(0x10 * h, 3)
}
/// Hop `h`: the relay's ephemeral `y`.
fn relay_y(h: u8) -> [u8; 32] {
    pat32(0x10 * h + 0x80, 5)
}
/// Hop 2's newer onion key, listed first; the client uses the older one.
fn hop2_other_onion_secret() -> [u8; 32] {
    pat32(0x33, 7)
}

/// Fixed hop keys of the cell tests (not from the handshake).
fn cell_keys(h: u8) -> HopKeys {
    HopKeys {
        forward: pat32(0x01 + 0x10 * h, 1),
        backward: pat32(0x02 + 0x10 * h, 3),
        forward_pad: pat32(0x03 + 0x10 * h, 5),
        backward_pad: pat32(0x04 + 0x10 * h, 7),
        forward_hp: pat32(0x05 + 0x10 * h, 9),
        backward_hp: pat32(0x06 + 0x10 * h, 11),
        digest: [0; DIGEST_LEN],
    }
}
const FWD_NONCES: [u64; 3] = [0x0102_0304_0506_0708, 0x8877_6655_4433_2211, 0xdead_beef];
/// The destination's random unused slots: 144 − 24·2 bytes.
fn dest_random() -> Vec<u8> {
    pat(0xa0, 1, 96)
}
fn fwd_payload() -> [u8; PAYLOAD_LEN] {
    std::array::from_fn(|i| (i * 7 + 3) as u8)
}
const BWD_DEST_NONCE: u64 = 0x0123_4567_89ab_cdef;
const BWD_COUNTER_RELAY2: u64 = 0xfedc_ba98_7654_3210;
const BWD_COUNTER_RELAY1: u64 = 42;
fn bwd_payload() -> [u8; PAYLOAD_LEN] {
    std::array::from_fn(|i| (i * 13 + 5) as u8)
}

const NOW: u64 = 1_700_000_000;
const LIFETIME: u64 = 7 * 86_400;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// An "RNG" that hands out fixed bytes in order and panics when they run
/// out: how the tests inject x, y, key seeds and the destination's padding.
struct Fixed {
    bytes: Vec<u8>,
    pos: usize,
}

impl Fixed {
    fn new(bytes: &[u8]) -> Self {
        Fixed {
            bytes: bytes.to_vec(),
            pos: 0,
        }
    }

    fn assert_used_up(&self, what: &str) {
        assert_eq!(
            self.pos,
            self.bytes.len(),
            "{what}: drew {} of the {} fixed random bytes",
            self.pos,
            self.bytes.len()
        );
    }
}

impl RngCore for Fixed {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        let end = self.pos + dest.len();
        assert!(end <= self.bytes.len(), "fixed random bytes exhausted");
        dest.copy_from_slice(&self.bytes[self.pos..end]);
        self.pos = end;
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for Fixed {}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `body` against gen.py's first 200 bytes and SHA-256 of all of it.
fn check_body(what: &str, body: &[u8; BODY_LEN], head: &str, sha: &str) {
    assert_eq!(
        hex(&body[..200]),
        head,
        "{what}: first 200 bytes differ from the independent reference (gen.py)"
    );
    assert_eq!(
        hex(&Sha256::digest(body)),
        sha,
        "{what}: SHA-256 of the body differs from the independent reference (gen.py)"
    );
}

fn check_keys(what: &str, k: &HopKeys, expected: [&str; 7]) {
    let [forward, backward, forward_pad, backward_pad, digest, forward_hp, backward_hp] = expected;
    let msg = "differs from the independent reference (gen.py)";
    assert_eq!(hex(&k.forward), forward, "{what}: forward {msg}");
    assert_eq!(hex(&k.backward), backward, "{what}: backward {msg}");
    assert_eq!(
        hex(&k.forward_pad),
        forward_pad,
        "{what}: forward_pad {msg}"
    );
    assert_eq!(
        hex(&k.backward_pad),
        backward_pad,
        "{what}: backward_pad {msg}"
    );
    assert_eq!(hex(&k.digest), digest, "{what}: digest {msg}");
    assert_eq!(hex(&k.forward_hp), forward_hp, "{what}: forward_hp {msg}");
    assert_eq!(
        hex(&k.backward_hp),
        backward_hp,
        "{what}: backward_hp {msg}"
    );
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn ntor_handshake_matches_independent_reference() {
    // Per hop: node ID, B, CREATE, CREATED, HopKeys fields.
    let expected: [(&str, &str, &str, &str, [&str; 7]); 3] = [
        (
            NTOR1_NODE_ID,
            NTOR1_B,
            NTOR1_CREATE,
            NTOR1_CREATED,
            [
                NTOR1_FORWARD,
                NTOR1_BACKWARD,
                NTOR1_FORWARD_PAD,
                NTOR1_BACKWARD_PAD,
                NTOR1_DIGEST,
                NTOR1_FORWARD_HP,
                NTOR1_BACKWARD_HP,
            ],
        ),
        (
            NTOR2_NODE_ID,
            NTOR2_B,
            NTOR2_CREATE,
            NTOR2_CREATED,
            [
                NTOR2_FORWARD,
                NTOR2_BACKWARD,
                NTOR2_FORWARD_PAD,
                NTOR2_BACKWARD_PAD,
                NTOR2_DIGEST,
                NTOR2_FORWARD_HP,
                NTOR2_BACKWARD_HP,
            ],
        ),
        (
            NTOR3_NODE_ID,
            NTOR3_B,
            NTOR3_CREATE,
            NTOR3_CREATED,
            [
                NTOR3_FORWARD,
                NTOR3_BACKWARD,
                NTOR3_FORWARD_PAD,
                NTOR3_BACKWARD_PAD,
                NTOR3_DIGEST,
                NTOR3_FORWARD_HP,
                NTOR3_BACKWARD_HP,
            ],
        ),
    ];
    for (h, (node_id, b, create_hex, created_hex, keys)) in (1u8..).zip(expected) {
        let what = format!("hop {h}");
        let mut rng = Fixed::new(&id_seed(h));
        let id = Identity::generate(&mut rng);
        rng.assert_used_up(&format!("{what}: Identity::generate"));
        let mut rng = Fixed::new(&onion_secret(h));
        let onion = OnionKey::generate(&id, &mut rng, NOW, LIFETIME);
        rng.assert_used_up(&format!("{what}: OnionKey::generate"));
        assert_eq!(
            hex(&id.id()),
            node_id,
            "{what}: node ID (ed25519 public key)"
        );
        assert_eq!(hex(&onion.public()), b, "{what}: onion key B");
        let relay_keys = if h == 2 {
            // The relay's current key first, the one the client knows second.
            let newer = OnionKey::generate(
                &id,
                &mut Fixed::new(&hop2_other_onion_secret()),
                NOW + LIFETIME / 2,
                LIFETIME,
            );
            assert_ne!(newer.public()[..4], onion.public()[..4]);
            vec![newer, onion.clone()]
        } else {
            vec![onion.clone()]
        };

        let mut rng = Fixed::new(&client_x(h));
        let (hs, create) = ntor::client_start(&mut rng, &id.id(), &onion.public());
        rng.assert_used_up(&format!("{what}: client_start"));
        assert_eq!(
            hex(&create),
            create_hex,
            "{what}: CREATE differs from the independent reference (gen.py)"
        );

        let mut rng = Fixed::new(&relay_y(h));
        let (relay_side, created) = ntor::server_respond(&mut rng, &id.id(), &relay_keys, &create)
            .expect("server_respond refused the CREATE");
        rng.assert_used_up(&format!("{what}: server_respond"));
        assert_eq!(
            hex(&created),
            created_hex,
            "{what}: CREATED differs from the independent reference (gen.py)"
        );
        check_keys(&format!("{what}, relay side"), &relay_side, keys);

        let client_side = hs.finish(&created).expect("finish refused the CREATED");
        check_keys(&format!("{what}, client side"), &client_side, keys);
    }
}

#[test]
fn forward_cell_layers_match_independent_reference() {
    let ks = [cell_keys(1), cell_keys(2), cell_keys(3)];
    let hops: Vec<(&HopKeys, u64)> = ks.iter().zip(FWD_NONCES).collect();
    let payload = fwd_payload();
    let mut rng = Fixed::new(&dest_random());
    let mut body = cell::client_forward(&mut rng, &hops, &payload).expect("3 hops");
    rng.assert_used_up("client_forward (the destination's unused slots)");
    check_body("client_forward", &body, FWD_CLIENT_HEAD, FWD_CLIENT_SHA256);

    let after: [(&str, &str); 3] = [
        (FWD_AFTER_HOP1_HEAD, FWD_AFTER_HOP1_SHA256),
        (FWD_AFTER_HOP2_HEAD, FWD_AFTER_HOP2_SHA256),
        (FWD_AFTER_HOP3_HEAD, FWD_AFTER_HOP3_SHA256),
    ];
    for (i, (k, (head, sha))) in ks.iter().zip(after).enumerate() {
        let what = format!("hop_forward at hop {}", i + 1);
        assert_eq!(
            cell::hop_forward(k, &mut body),
            Ok(FWD_NONCES[i]),
            "{what}: refused or wrong nonce"
        );
        check_body(&what, &body, head, sha);
    }
    assert_eq!(cell::payload(&body), &payload, "the destination's payload");
    // The destination's slot region starts with the unused-slot bytes R.
    assert_eq!(&body[..96], &dest_random()[..]);
}

#[test]
fn backward_cell_layers_match_independent_reference() {
    let ks = [cell_keys(1), cell_keys(2), cell_keys(3)];
    let payload = bwd_payload();
    let mut body = cell::dest_backward(&ks[2], BWD_DEST_NONCE, &payload);
    check_body(
        "dest_backward at hop 3",
        &body,
        BWD_AFTER_DEST_HEAD,
        BWD_AFTER_DEST_SHA256,
    );
    cell::relay_backward(&ks[1], BWD_COUNTER_RELAY2, &mut body);
    check_body(
        "relay_backward at hop 2",
        &body,
        BWD_AFTER_RELAY2_HEAD,
        BWD_AFTER_RELAY2_SHA256,
    );
    cell::relay_backward(&ks[0], BWD_COUNTER_RELAY1, &mut body);
    check_body(
        "relay_backward at hop 1",
        &body,
        BWD_AFTER_RELAY1_HEAD,
        BWD_AFTER_RELAY1_SHA256,
    );

    let (got, nonce) =
        cell::client_backward(&[&ks[0], &ks[1], &ks[2]], &body).expect("client_backward");
    assert_eq!(
        nonce, BWD_CLIENT_NONCE,
        "client_backward: destination nonce"
    );
    assert_eq!(
        hex(&Sha256::digest(got)),
        BWD_CLIENT_PAYLOAD_SHA256,
        "client_backward: payload differs from the independent reference (gen.py)"
    );
    assert_eq!(got, payload);
}
