// A test's own HTTPS client for the Entra world's hosts (token endpoint, Graph, ARM, OIDC):
// Node's https with the world's CA as the only extra trust (certificate checks stay on).
import * as http from 'node:http';
import * as https from 'node:https';

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: any;
}

export function httpsCall(url: string, ca: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: init.method ?? 'GET', headers: init.headers, ca }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** A client-credentials token from the Entra emulator with a client secret; throws unless 200. */
export async function secretToken(authorityUrl: string, ca: string, tenant: string, clientId: string, secret: string, scope: string): Promise<string> {
  const a = await httpsCall(`${authorityUrl}${tenant}/oauth2/v2.0/token`, ca, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret, scope }).toString(),
  });
  if (a.status !== 200) throw new Error(`token for ${clientId} (${scope}): ${a.status} ${a.text}`);
  return a.json.access_token as string;
}
