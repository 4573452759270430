//! tokencert
