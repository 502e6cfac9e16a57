// Every build, the static container binary included (glibc linked in), uses glibc's allocator.
fn main() -> std::process::ExitCode {
    stagedoor::cli::main()
}
