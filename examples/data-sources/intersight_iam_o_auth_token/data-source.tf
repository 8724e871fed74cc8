# Every OAuth token record Intersight keeps (all pages are fetched).
data "intersight_iam_o_auth_token" "all" {}

# Tokens of one registered application.
data "intersight_iam_o_auth_token" "by_app" {
  client_name = "Intersight Mobile"
}

# Tokens of one user, through the nested `user` reference block.
data "intersight_iam_o_auth_token" "by_user" {
  user {
    moid = data.intersight_iam_o_auth_token.all.results[0].user[0].moid
  }
}

# Tokens carrying a tag.
data "intersight_iam_o_auth_token" "tagged" {
  tags {
    key   = "Site"
    value = "London"
  }
}

# A raw OData filter, ANDed with the other arguments; the whole read may take at most
# five minutes (the default is 20m).
data "intersight_iam_o_auth_token" "recent_logins" {
  filter = "LastLoginTime gt 2024-01-01T00:00:00Z and startswith(ClientIpAddress,'10.')"

  timeouts {
    read = "5m"
  }
}

output "token_count" {
  value = length(data.intersight_iam_o_auth_token.all.results)
}

output "apps" {
  value = distinct([for t in data.intersight_iam_o_auth_token.all.results : t.client_name])
}

output "user_token_ids" {
  value = [for t in data.intersight_iam_o_auth_token.by_user.results : t.token_id]
}
