//! A Docker engine for tests (to be written: see the docker builder work).
