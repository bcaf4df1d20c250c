fn main() {
    std::process::exit(mforacle::cli::main());
}
