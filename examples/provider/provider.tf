terraform {
  required_providers {
    intersight = {
      source = "CiscoDevNet/intersight"
    }
  }
}

# Credentials usually come from the environment; exactly one kind is used:
#   an API key (requests signed, as with the official provider)
#     INTERSIGHT_API_KEY        the API key id
#     INTERSIGHT_SECRET_KEY     the private key: PEM text or the path of the PEM file
#   or OAuth 2.0 client credentials (short-lived Bearer tokens from /iam/token)
#     INTERSIGHT_CLIENT_ID      the OAuth application's client id
#     INTERSIGHT_CLIENT_SECRET  its client secret
#   INTERSIGHT_ENDPOINT_URL     e.g. intersight.com, or an appliance's host name
#   INTERSIGHT_CA_CERTIFICATE   the CA of an appliance with a private CA: PEM text or a file path
# Given as variables instead, set one pair and leave the other null: both pairs set is an error.
variable "apikey" {
  type    = string
  default = null
}

variable "secretkey" {
  type      = string
  default   = null
  sensitive = true
}

variable "client_id" {
  type    = string
  default = null
}

variable "client_secret" {
  type      = string
  default   = null
  sensitive = true
}

variable "endpoint" {
  type    = string
  default = null
}

variable "ca_certificate" {
  type    = string
  default = null
}

provider "intersight" {
  apikey         = var.apikey
  secretkey      = var.secretkey
  client_id      = var.client_id
  client_secret  = var.client_secret
  endpoint       = var.endpoint
  ca_certificate = var.ca_certificate # null: the system's trusted roots only

  # All optional; the values below are the defaults.
  insecure        = false # never disable verification for a SaaS endpoint
  request_timeout = 60    # seconds per HTTP request (1..3600)
  max_retries     = 5     # on 408, 429, 500, 502, 503, 504 and resets; timeouts, DNS and refused connections once (0..20)
  page_size       = 1000  # objects per page (1..1000)
  parallelism     = 4     # pages fetched at once (1..16)
}
