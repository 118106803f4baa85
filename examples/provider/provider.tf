terraform {
  required_providers {
    proxmox = {
      source  = "gcid/proxmox"
      version = "0.1.0"
    }
  }
}

# Every setting below may be left out and taken from the environment instead:
#   PROXMOX_VE_ENDPOINT, PROXMOX_VE_API_TOKEN_ID, PROXMOX_VE_API_TOKEN_SECRET
#   (or PROXMOX_VE_API_TOKEN="ID=SECRET"), PROXMOX_VE_TLS_FINGERPRINT,
#   PROXMOX_VE_CA_PEM, PROXMOX_VE_INSECURE, PROXMOX_VE_TIMEOUT.
# Settings written here win over the environment.
provider "proxmox" {
  endpoint         = var.proxmox_endpoint
  api_token_id     = var.proxmox_api_token_id
  api_token_secret = var.proxmox_api_token_secret

  tls {
    # On a Proxmox VE node:
    #   openssl x509 -in /etc/pve/local/pve-ssl.pem -noout -fingerprint -sha256
    fingerprint_sha256 = var.proxmox_tls_fingerprint
  }
}

variable "proxmox_endpoint" {
  description = "Proxmox VE API URL, e.g. https://pve1.example.com:8006."
  type        = string
}

variable "proxmox_api_token_id" {
  description = "API token id, USER@REALM!TOKENID (pveum user token add)."
  type        = string
}

variable "proxmox_api_token_secret" {
  description = "API token secret."
  type        = string
  sensitive   = true
}

variable "proxmox_tls_fingerprint" {
  description = "SHA-256 fingerprint of the API's certificate, AB:CD:..."
  type        = string
}
