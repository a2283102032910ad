#!/bin/sh
# Writes the Java truststore of the object store's CA (javax.net.ssl.trustStore): the JVM reads no PEM
# file as a truststore, so keytool, from the image's own JDK, imports the CA into PKCS#12. The store is
# unprotected (no MAC, certificates unencrypted: JDK keystore.pkcs12.* properties), so the JVM loads it
# without a password; it holds a public certificate only. Rewritten at every start of the pod.
# Environment: CA_FILE (PEM), TRUSTSTORE (the PKCS#12 file written).
set -eu
rm -f "$TRUSTSTORE"
keytool -J-Dkeystore.pkcs12.certProtectionAlgorithm=NONE -J-Dkeystore.pkcs12.macAlgorithm=NONE \
  -importcert -noprompt -alias floe-object-store-ca -file "$CA_FILE" \
  -keystore "$TRUSTSTORE" -storetype PKCS12 -storepass unprotected
