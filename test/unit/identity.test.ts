import * as assert from 'node:assert/strict';
import { randomUUID } from 'crypto';
import { AZURE_DEVOPS_APP_ID, azureDevOpsIssuer, azureDevOpsSubject, entraIssuer, entraSubject, guidB64u } from '../../tasks/ConvertToWif/src/core/identity';
import { guidToBase64Url } from '../emulator/serviceEndpoints';

describe('identity (issuer and subject formats)', () => {
  it("encodes Azure DevOps' app id as in every Entra subject Azure DevOps issues", () => {
    assert.equal(guidB64u(AZURE_DEVOPS_APP_ID), 'rISbSSETf0KqFyZ8ppdXmA');
    assert.equal(guidB64u(AZURE_DEVOPS_APP_ID.toUpperCase()), 'rISbSSETf0KqFyZ8ppdXmA');
  });

  it('agrees with the emulator (an independent implementation of the service side) on random GUIDs', () => {
    for (let i = 0; i < 200; i++) {
      const g = randomUUID();
      assert.equal(guidB64u(g), guidToBase64Url(g), g);
    }
  });

  it('builds the Entra and Azure DevOps issuers and subjects, and refuses a tenant that is not a GUID', () => {
    const tenant = 'bf59a2f3-9ca6-4909-b842-a0755803cb70';
    assert.equal(entraIssuer(tenant), `https://login.microsoftonline.com/${tenant}/v2.0`);
    assert.equal(entraSubject(tenant, 'org-id', 'ep-id'), `/eid1/c/pub/t/${guidB64u(tenant)!}/a/rISbSSETf0KqFyZ8ppdXmA/sc/org-id/ep-id`);
    assert.equal(entraSubject('contoso.onmicrosoft.com', 'org-id', 'ep-id'), undefined);
    assert.equal(guidB64u('not-a-guid'), undefined);
    assert.equal(azureDevOpsIssuer('org-id'), 'https://vstoken.dev.azure.com/org-id');
    assert.equal(azureDevOpsSubject('contoso', 'Payments', 'prod-ledger'), 'sc://contoso/Payments/prod-ledger');
  });
});
