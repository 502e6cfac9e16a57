fn main() -> std::process::ExitCode {
    stagedoor::cli::main()
}
