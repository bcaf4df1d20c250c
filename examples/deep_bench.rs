//! The deep case of `mforacle bench` alone (the full `bench` also runs the other cases):
//! `cargo run --release --example deep_bench -- LAYERS N D REPEATS` prints the JSON of
//! `mforacle::deep::bench::case` (fused Euler step, scalar reference, NumPy in the same run).
fn main() {
    let a: Vec<usize> = std::env::args()
        .skip(1)
        .map(|x| x.parse().expect("LAYERS N D REPEATS (integers)"))
        .collect();
    if a.len() != 4 || ![2, 3].contains(&a[0]) || a[1] == 0 || a[2] == 0 {
        eprintln!("usage: deep_bench LAYERS(2|3) N D REPEATS");
        std::process::exit(2);
    }
    let c = mforacle::deep::bench::case(a[0], a[1], a[2], a[3].max(1));
    println!(
        "{}",
        serde_json::to_string_pretty(&c).expect("finite numbers")
    );
}
