// The emulated Microsoft Entra directory shared by the token endpoint (entra.ts), Microsoft Graph
// (graph.ts) and Azure Resource Manager (arm.ts): tenants, their app registrations and user-assigned
// managed identities with federated identity credentials, the clients that may ask for tokens, the
// opaque access tokens issued, and when a credential added through Graph or ARM becomes usable. Node built-ins only; the state is the emulator's own deep copy of the seed.
import * as crypto from 'crypto';
import type { AppCredentialSeed, EntraSeed, FederatedCredentialSeed, GraphPermission } from './types';
import { clone, identityId, ieq } from './util';

export const FIC_AUDIENCE = 'api://AzureADTokenExchange';

export interface FicState {
  id: string;
  name: string;
  issuer: string;
  subject: string;
  audiences: string[];
  description: string | null;
  /** Emulator clock (ms) when it was added through Graph; 0 for seeded credentials (usable at once). */
  addedAt: number;
}

export interface AppState {
  appId: string;
  objectId: string;
  displayName: string;
  signInAudience: string;
  owners: string[];
  federatedIdentityCredentials: FicState[];
  passwordCredentials: AppCredentialSeed[];
  keyCredentials: AppCredentialSeed[];
}

export interface ClientState {
  appId: string;
  objectId: string;
  displayName: string;
  permissions: GraphPermission[];
  secret?: string;
  federatedIdentityCredentials: FicState[];
}

/** A user-assigned managed identity (arm.ts); its credentials are matched like an app's. */
export interface ManagedIdentityState {
  tenantId: string;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  clientId: string;
  principalId: string;
  federatedIdentityCredentials: FicState[];
  /** Client ids that may write its federated credentials (Managed Identity [Federated Credential] Contributor). */
  writers: string[];
  /** Client ids that may only read it (Reader). */
  readers: string[];
  /** Emulator clock (ms) of the last federated-credential write (armConcurrentWriteWindowMs). */
  lastWriteAt?: number;
}

export interface TenantState {
  id: string;
  displayName: string;
  applications: AppState[];
  servicePrincipals: ClientState[];
  managedIdentities: ManagedIdentityState[];
  /** Subscription ids of the tenant (those of its managed identities and the seeded extra ones). */
  subscriptions: string[];
}

/**
 * The ARM resource id of a user-assigned identity, as the Managed Identity resource provider writes
 * it (lower-case "resourcegroups", as in the list-by-subscription example of
 * learn.microsoft.com/rest/api/managedidentity/user-assigned-identities/list-by-subscription).
 */
export const managedIdentityId = (mi: Pick<ManagedIdentityState, 'subscriptionId' | 'resourceGroup' | 'name'>): string =>
  `/subscriptions/${mi.subscriptionId}/resourcegroups/${mi.resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${mi.name}`;

export type Resource = 'graph' | 'arm' | 'azuredevops';

export interface AccessTokenInfo {
  tenantId: string;
  clientId: string;
  clientObjectId: string;
  resource: Resource;
  /** Graph application permissions (the token's `roles`); empty for other resources. */
  roles: GraphPermission[];
  expiresAt: number;
}

const fic = (f: FederatedCredentialSeed): FicState => ({
  id: f.id ?? crypto.randomUUID(),
  name: f.name,
  issuer: f.issuer,
  subject: f.subject,
  audiences: f.audiences ?? [FIC_AUDIENCE],
  description: f.description ?? null,
  addedAt: 0,
});

export class Directory {
  readonly tenants: TenantState[];
  propagationDelayMs: number;
  now: () => number = Date.now;
  private readonly tokens = new Map<string, AccessTokenInfo>();

  constructor(seed: EntraSeed) {
    const s = clone(seed);
    this.propagationDelayMs = s.propagationDelayMs ?? 0;
    this.tenants = s.tenants.map((t) => ({
      id: t.id,
      displayName: t.displayName ?? t.id,
      applications: (t.applications ?? []).map((a) => ({
        appId: a.appId,
        objectId: a.objectId,
        displayName: a.displayName,
        signInAudience: a.signInAudience ?? 'AzureADMyOrg',
        owners: a.owners ?? [],
        federatedIdentityCredentials: (a.federatedIdentityCredentials ?? []).map(fic),
        passwordCredentials: a.passwordCredentials ?? [],
        keyCredentials: a.keyCredentials ?? [],
      })),
      servicePrincipals: (t.servicePrincipals ?? []).map((p) => ({
        appId: p.appId,
        objectId: p.objectId ?? identityId(`sp:${p.appId}`),
        displayName: p.displayName ?? p.appId,
        permissions: p.permissions ?? [],
        secret: p.secret,
        federatedIdentityCredentials: (p.federatedIdentityCredentials ?? []).map(fic),
      })),
      managedIdentities: (t.managedIdentities ?? []).map((m) => ({
        tenantId: t.id,
        subscriptionId: m.subscriptionId,
        resourceGroup: m.resourceGroup,
        name: m.name,
        location: m.location ?? 'westeurope',
        clientId: m.clientId,
        principalId: m.principalId,
        federatedIdentityCredentials: (m.federatedIdentityCredentials ?? []).map(fic),
        writers: m.writers ?? [],
        readers: m.readers ?? [],
      })),
      subscriptions: [
        ...new Set([...(t.managedIdentities ?? []).map((m) => m.subscriptionId.toLowerCase()), ...(t.subscriptions ?? []).map((x) => x.toLowerCase())]),
      ],
    }));
  }

  tenant(id: string): TenantState | undefined {
    return this.tenants.find((t) => ieq(t.id, id));
  }

  /** An app registration of that tenant by appId or object id. */
  app(tenant: TenantState, appIdOrObjectId: string, by: 'appId' | 'objectId'): AppState | undefined {
    return tenant.applications.find((a) => ieq(by === 'appId' ? a.appId : a.objectId, appIdOrObjectId));
  }

  /** The app with that appId in whichever tenant is its home. */
  appAnywhere(appId: string): AppState | undefined {
    for (const t of this.tenants) {
      const a = this.app(t, appId, 'appId');
      if (a) return a;
    }
    return undefined;
  }

  /**
   * A client of the token endpoint: a seeded service principal, else a user-assigned managed
   * identity of the tenant (no secret, no Graph permission; its credentials are the identity's own,
   * the same array, so credentials added through ARM count at once).
   */
  client(tenant: TenantState, clientId: string): ClientState | undefined {
    const sp = tenant.servicePrincipals.find((p) => ieq(p.appId, clientId));
    if (sp) return sp;
    const mi = tenant.managedIdentities.find((m) => ieq(m.clientId, clientId));
    return mi
      ? { appId: mi.clientId, objectId: mi.principalId, displayName: mi.name, permissions: [], federatedIdentityCredentials: mi.federatedIdentityCredentials }
      : undefined;
  }

  /** The user-assigned managed identity with that client id, in whichever tenant holds it. */
  managedIdentityAnywhere(clientId: string): ManagedIdentityState | undefined {
    for (const t of this.tenants) {
      const m = t.managedIdentities.find((x) => ieq(x.clientId, clientId));
      if (m) return m;
    }
    return undefined;
  }

  /** The tenant a subscription belongs to. */
  subscriptionTenant(subscriptionId: string): TenantState | undefined {
    return this.tenants.find((t) => t.subscriptions.includes(subscriptionId.toLowerCase()));
  }

  /** The credentials a client's assertion is matched against: its app's when the app is seeded in the tenant, else its own. */
  credentialsOf(tenant: TenantState, client: ClientState): FicState[] {
    return this.app(tenant, client.appId, 'appId')?.federatedIdentityCredentials ?? client.federatedIdentityCredentials;
  }

  /** A credential is usable once propagationDelayMs has passed since Graph added it (seeded ones at once). */
  usable(f: FicState): boolean {
    return f.addedAt === 0 || this.now() >= f.addedAt + this.propagationDelayMs;
  }

  /**
   * Whether a credential with exactly this issuer and subject exists on the app (found by appId in
   * its home tenant, or among a seeded client's own credentials), or on the user-assigned managed
   * identity with that client id, and has propagated. For the Azure DevOps emulator to consult when
   * it would exchange a token for a converted or migrated connection.
   */
  isUsable(appId: string, issuer: string, subject: string): boolean {
    const ficsOf = (list: FicState[]) => list.some((f) => f.issuer === issuer && f.subject === subject && this.usable(f));
    const app = this.appAnywhere(appId);
    if (app) return ficsOf(app.federatedIdentityCredentials);
    const mi = this.managedIdentityAnywhere(appId);
    if (mi) return ficsOf(mi.federatedIdentityCredentials);
    return this.tenants.some((t) => {
      const c = this.client(t, appId);
      return !!c && ficsOf(c.federatedIdentityCredentials);
    });
  }

  /** Issues an opaque access token (random, not a JWT) that Graph looks up here. */
  issue(info: AccessTokenInfo): string {
    const token = `emu-at.${crypto.randomBytes(24).toString('base64url')}`;
    this.tokens.set(token, info);
    return token;
  }

  token(value: string): AccessTokenInfo | undefined {
    return this.tokens.get(value);
  }
}
