fn main() {
    std::process::exit(kiste::cli::main())
}
