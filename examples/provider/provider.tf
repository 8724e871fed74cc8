terraform {
  required_providers {
    intersight = {
      source = "CiscoDevNet/intersight"
    }
  }
}

# Credentials usually come from the environment:
#   INTERSIGHT_API_KEY      the API key id
#   INTERSIGHT_SECRET_KEY   the private key: PEM text or the path of the PEM file
#   INTERSIGHT_ENDPOINT_URL e.g. intersight.com, or an appliance's host name
variable "apikey" {
  type    = string
  default = null
}

variable "secretkey" {
  type      = string
  default   = null
  sensitive = true
}

variable "endpoint" {
  type    = string
  default = null
}

provider "intersight" {
  apikey    = var.apikey
  secretkey = var.secretkey
  endpoint  = var.endpoint

  # All optional; the values below are the defaults.
  insecure        = false # never disable verification for a SaaS endpoint
  request_timeout = 60    # seconds per HTTP request
  max_retries     = 5     # on 408, 429, 500, 502, 503, 504 and resets
  page_size       = 1000  # objects per page (1..1000)
  parallelism     = 4     # pages fetched at once (1..16)
}
