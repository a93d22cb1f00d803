//! PKCS#11 devices (placeholder while the implementation lands).
