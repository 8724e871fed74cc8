//! A Terraform provider plugin server.
