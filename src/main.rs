//! `terraform-provider-intersight`: everything lives in the library; see `plugin::main`.

fn main() {
    std::process::exit(terraform_provider_intersight::plugin::main());
}
