//! docker-registry for tests (to be written: see the distribution client work).
