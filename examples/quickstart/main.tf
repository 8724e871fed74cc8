# Quickstart: questions about the OAuth tokens of an Intersight account.
#
#   scripts/quickstart     runs this against Intersight (when INTERSIGHT_API_KEY and
#                          INTERSIGHT_SECRET_KEY are set) or against a local simulator.
#
# Credentials come from the environment: INTERSIGHT_API_KEY, INTERSIGHT_SECRET_KEY (PEM text or
# the path of the PEM file) and INTERSIGHT_ENDPOINT_URL (default intersight.com).

terraform {
  # plantimestamp() needs Terraform 1.5 or later.
  required_version = ">= 1.5.0"
  required_providers {
    intersight = {
      source = "CiscoDevNet/intersight"
    }
  }
}

variable "ca_certificate" {
  description = "CA certificate (PEM text or a file path) for an endpoint with a private CA, such as the simulator. null: the system's trust store."
  type        = string
  default     = null
}

variable "client_address" {
  description = "The client address whose logins to list."
  type        = string
  default     = "10.10.1.15"
}

provider "intersight" {
  ca_certificate = var.ca_certificate
}

locals {
  # Whole seconds in UTC, the form Intersight's $filter compares date-times in.
  now      = formatdate("YYYY-MM-DD'T'hh:mm:ss'Z'", plantimestamp())
  tomorrow = formatdate("YYYY-MM-DD'T'hh:mm:ss'Z'", timeadd(plantimestamp(), "24h"))
}

# Every token record the key can see (all pages are fetched).
data "intersight_iam_o_auth_token" "all" {}

# The last logins made from one client address: a scalar argument.
data "intersight_iam_o_auth_token" "from_address" {
  last_login_client = var.client_address
}

# Tokens whose refresh expiry falls within the next 24 hours: a raw OData filter.
data "intersight_iam_o_auth_token" "expiring" {
  filter = "ExpirationTime ge ${local.now} and ExpirationTime lt ${local.tomorrow}"
}

# All tokens of one user, through the nested `user` block (here: the user of the first token).
data "intersight_iam_o_auth_token" "first_user" {
  user {
    moid = try(data.intersight_iam_o_auth_token.all.results[0].user[0].moid, "none")
  }
}

locals {
  by_application = {
    for t in data.intersight_iam_o_auth_token.all.results : coalesce(t.client_name, "(none)") => t.moid...
  }
}

output "token_count" {
  description = "How many token records exist."
  value       = length(data.intersight_iam_o_auth_token.all.results)
}

output "tokens_per_application" {
  description = "Token records per registered application (client_name)."
  value       = { for app, moids in local.by_application : app => length(moids) }
}

output "logins_from_address" {
  description = "Tokens last used from var.client_address: moid => application and time."
  value = {
    for t in data.intersight_iam_o_auth_token.from_address.results :
    t.moid => "${coalesce(t.client_name, "?")} at ${coalesce(t.last_login_time, "?")}"
  }
}

output "expiring_within_24h" {
  description = "Tokens that can no longer be refreshed 24 hours from now: moid => expiry."
  value = {
    for t in data.intersight_iam_o_auth_token.expiring.results : t.moid => t.expiration_time
  }
}

output "tokens_of_first_user" {
  description = "How many tokens the user of the first token holds."
  value       = length(data.intersight_iam_o_auth_token.first_user.results)
}
