//! Each engine adapter of the kv benchmarks does what the benchmark assumes:
//! a put is read back, a scan is in key order and stops at `count`, a
//! loaded store survives reopening, and compaction keeps every value.

use benches::kv::{Engine, Fjall, Redb, Sled, Strata, VALUE_LEN, random_keys, value_for};

fn round_trip<E: Engine>() {
    let dir = tempfile::tempdir().unwrap();
    let keys = random_keys(7, 2_000);
    {
        let mut engine = E::open(dir.path(), true);
        assert_eq!(engine.get(&keys[0]), None, "{}: empty store", E::NAME);
        engine.load(&keys[..1_000]);
        for key in &keys[1_000..] {
            engine.put(key, &value_for(key));
        }
        for key in &keys {
            assert_eq!(engine.get(key), Some(VALUE_LEN), "{}", E::NAME);
        }
        assert_eq!(engine.scan(&[0; 16], 500), 500, "{}", E::NAME);
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        // From the 1,900th smallest key there are exactly 100 left.
        assert_eq!(engine.scan(&sorted[1_900], 1_000), 100, "{}", E::NAME);
        engine.load(&keys);
        engine.compact();
        assert_eq!(engine.get(&keys[1_234]), Some(VALUE_LEN), "{}", E::NAME);
    }
    let engine = E::open(dir.path(), false);
    for key in &keys {
        assert_eq!(
            engine.get(key),
            Some(VALUE_LEN),
            "{} after reopening",
            E::NAME
        );
    }
}

#[test]
fn strata_adapter() {
    round_trip::<Strata>();
}

#[test]
fn redb_adapter() {
    round_trip::<Redb>();
}

#[test]
fn sled_adapter() {
    round_trip::<Sled>();
}

#[test]
fn fjall_adapter() {
    round_trip::<Fjall>();
}
