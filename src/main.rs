// The static (musl) container build swaps musl's allocator, which serialises threads, for
// mimalloc; glibc builds keep the system allocator.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    stagedoor::cli::main()
}
