//! `terraform-provider-intersight`: everything lives in the library; see `main` there.

fn main() {
    std::process::exit(terraform_provider_intersight::main());
}
