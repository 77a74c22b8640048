# Certificates of the local control plane and its node, issued by the development CA in $PKI
# (ca.crt/ca.key). Sourced by hack/cluster/up.sh (API server, admin, controller-manager, the API
# server's kubelet client) and hack/cluster/node.sh (kubelet, scheduler), so every certificate is
# issued the same way: RSA 2048, ten years, a leaf with exactly the key usages it needs.

# issue_cert NAME SUBJECT EXT_KEY_USAGE [SUBJECT_ALT_NAMES] -> $PKI/NAME.crt and $PKI/NAME.key (0600)
issue_cert() {
  local name=$1 subj=$2 eku=$3 san=${4:-}
  openssl req -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -out "$PKI/$name.csr" -subj "$subj" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [[ -n "$san" ]] && echo "subjectAltName=$san"
  } >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -out "$PKI/$name.crt" -days 3650 -sha256 -extfile "$PKI/$name.ext" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
  chmod 0600 "$PKI/$name.key"
}
