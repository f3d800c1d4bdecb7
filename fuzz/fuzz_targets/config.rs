//! config.json as kiste reads it: any bytes through `config::parse` and,
//! when they parse, `config::validate`. Neither may panic, whatever the
//! input. A spec that parses, written back out as JSON by oci-spec, must
//! parse again and validate the same way (a field kiste reads in one shape
//! but writes in another would break `kiste spec`, state files and the
//! tools that round-trip a config).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        // Warnings (unknown capabilities and the like) go nowhere rather
        // than flood the fuzzer's output.
        kiste::logging::init(Some("/dev/null".into()), kiste::logging::Format::Text, false);
    },
    |data: &[u8]| {
        let spec = match kiste::config::parse(data) {
            Ok(spec) => spec,
            Err(e) => {
                let _ = e.to_string();
                return;
            }
        };
        let verdict = kiste::config::validate(&spec).map_err(|e| e.to_string());
        let text = serde_json::to_vec(&spec).expect("a parsed spec serializes");
        let again = match kiste::config::parse(&text) {
            Ok(s) => s,
            Err(e) => panic!("a parsed spec, written out, does not parse again: {e}\n{}", String::from_utf8_lossy(&text)),
        };
        let verdict_again = kiste::config::validate(&again).map_err(|e| e.to_string());
        assert_eq!(verdict, verdict_again, "validate differs after a round trip\n{}", String::from_utf8_lossy(&text));
    }
);
