//! The cache of processed JSON-LD contexts (`data_integrity::context_cache`): signing the same
//! credential with the cache cold and warm gives the same canonical N-Quads and the same proof
//! (the published `eddsa-rdfc-2022` vector's), and the cache stays within its bounds. One test
//! function: the cache is shared by the whole process.
#![allow(clippy::unwrap_used)]

mod di_support;

use di_support::{published_ed25519, vector, vector_json};
use inkan_device::Algorithm;
use inkan_formats::data_integrity::{self, Cryptosuite, ProofOptions, context_cache};
use serde_json::json;

#[tokio::test]
async fn cold_and_warm_give_the_same_bytes_and_the_cache_is_bounded() {
    let unsigned = vector_json("eddsa/unsigned.json");
    let config_vector = vector_json("eddsa/eddsa-rdfc-2022/proofConfigDataInt.json");
    let (signer, key) = published_ed25519();
    let mut options = ProofOptions::assertion(Cryptosuite::EddsaRdfc2022);
    options.created = Some(config_vector["created"].as_str().unwrap().to_owned());
    let method = data_integrity::did_key_verification_method(&key.public_key);
    let config = data_integrity::proof_config(&unsigned, &options, &method).unwrap();
    let hash = || {
        data_integrity::hash_data(
            Cryptosuite::EddsaRdfc2022,
            Algorithm::EdDsa,
            &unsigned,
            &config,
        )
        .unwrap()
    };

    context_cache::clear();
    let cold = hash();
    assert_eq!(context_cache::len(), 1, "the credential's @context is kept");
    let warm = hash();
    assert_eq!(cold, warm, "canonical N-Quads and hashes, cold and warm");
    assert_eq!(
        warm.canonical_document,
        vector("eddsa/eddsa-rdfc-2022/canonDocDataInt.txt")
    );
    assert_eq!(
        warm.canonical_proof_config,
        vector("eddsa/eddsa-rdfc-2022/proofCanonDataInt.txt")
    );

    context_cache::clear();
    let signed_cold = data_integrity::sign(&unsigned, &signer, &key, &options)
        .await
        .unwrap();
    let signed_warm = data_integrity::sign(&unsigned, &signer, &key, &options)
        .await
        .unwrap();
    assert_eq!(signed_cold, signed_warm, "the same proof, cold and warm");
    assert_eq!(
        signed_warm,
        vector_json("eddsa/eddsa-rdfc-2022/signedDataInt.json")
    );

    // An inline context larger than the key limit is processed, never kept.
    context_cache::clear();
    let mut large = unsigned.clone();
    let padding = "x".repeat(context_cache::MAX_KEY_BYTES);
    large["@context"] = json!([
        "https://www.w3.org/ns/credentials/v2",
        "https://www.w3.org/ns/credentials/examples/v2",
        {"unusedTerm": format!("https://example.com/{padding}")}
    ]);
    data_integrity::canon::rdfc(&large).unwrap();
    assert_eq!(
        context_cache::len(),
        0,
        "a large inline context is not kept"
    );

    // Many distinct contexts never make the cache grow past its bound.
    for n in 0..context_cache::MAX_ENTRIES + 10 {
        let mut variant = unsigned.clone();
        variant["@context"] = json!([
            "https://www.w3.org/ns/credentials/v2",
            "https://www.w3.org/ns/credentials/examples/v2",
            {"unusedTerm": format!("https://example.com/{n}")}
        ]);
        data_integrity::canon::rdfc(&variant).unwrap();
        assert!(context_cache::len() <= context_cache::MAX_ENTRIES);
    }
    // And a warm cache still gives the published bytes.
    assert_eq!(hash(), cold);
}
