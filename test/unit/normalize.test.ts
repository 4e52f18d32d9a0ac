import * as assert from 'node:assert/strict';
import { normalizeEndpoint, normalizeListing } from '../../tasks/ConvertToWif/src/core/normalize';

describe('normalize (service answers)', () => {
  it('matches keys case-insensitively and reads string booleans', () => {
    const e = normalizeEndpoint({
      ID: 'x1',
      Name: 'conn',
      TYPE: 'azurerm',
      IsShared: 'false',
      isready: 'False',
      OperationStatus: { State: 'Failed', StatusMessage: 'boom' },
      AUTHORIZATION: { SCHEME: 'ServicePrincipal', Parameters: { TenantId: 't', serviceprincipalkey: null } },
      Data: { creationMode: 'Automatic', nested: { a: 1 } },
      serviceEndpointProjectReferences: [{ ProjectReference: { ID: 'p1', Name: 'Payments' }, Name: 'conn' }, 'junk'],
    })!;
    assert.deepEqual(e, {
      id: 'x1',
      name: 'conn',
      type: 'azurerm',
      url: undefined,
      owner: undefined,
      isShared: false,
      isReady: false,
      operationStatus: { state: 'Failed', statusMessage: 'boom' },
      // Keys of parameters and data are lower-cased once, here (objects without a prototype: a key
      // named __proto__ from the service is just a key).
      authorization: { scheme: 'ServicePrincipal', parameters: Object.assign(Object.create(null), { tenantid: 't', serviceprincipalkey: null }) },
      data: Object.assign(Object.create(null), { creationmode: 'Automatic', nested: '{"a":1}' }),
      serviceEndpointProjectReferences: [{ projectReference: { id: 'p1', name: 'Payments' }, name: 'conn', description: undefined }],
    });
  });

  it('counts entries it cannot use instead of failing', () => {
    const r = normalizeListing([{ id: 'a' }, { name: 'no id' }, null, 42, 'x', []]);
    assert.deepEqual(
      r.endpoints.map((e) => [e.id, e.name, e.type]),
      [['a', 'a', 'azurerm']],
    );
    assert.equal(r.malformed, 5);
  });

  it('keeps one entry per id (case-insensitive, the first) and counts the duplicates', () => {
    const r = normalizeListing([
      { id: 'ab-1', name: 'first' },
      { id: 'AB-1', name: 'again' },
      { id: 'c', name: 'c' },
    ]);
    assert.deepEqual(
      r.endpoints.map((e) => e.name),
      ['first', 'c'],
    );
    assert.equal(r.duplicates, 1);
    assert.equal(r.malformed, 0);
  });

  it('uses the known id for an answer about one connection', () => {
    assert.equal(normalizeEndpoint({ name: 'n' }, 'known')!.id, 'known');
    assert.equal(normalizeEndpoint('<html>', 'known'), undefined);
  });
});

describe('normalize: hostile keys', () => {
  it('a parameter named __proto__ or constructor is an ordinary key, and the first casing of a key wins', () => {
    const e = normalizeEndpoint(JSON.parse('{"id":"x","authorization":{"scheme":"S","parameters":{"__proto__":"p","TenantId":"first","tenantid":"second"}}}'))!;
    const params = e.authorization!.parameters!;
    assert.equal(Object.getPrototypeOf(params), null);
    assert.equal(params['__proto__'], 'p');
    assert.equal(params['tenantid'], 'first');
  });
});
