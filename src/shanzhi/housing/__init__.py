"""The housing registry: scattered housing (零星房屋), residents and the floating population,
rental-safety inspections — with personal data encrypted, masked and every reveal audited.

Entry points for pages and map layers (all take `session` and `actor=`, keep to the actor's reach,
and return masked personal data):

  service.find_buildings(bbox=(w, s, e, n) | q=address text | region=code)  → (buildings, total)
  service.building_summaries(session, buildings)      → dicts with unit / rented / resident counts
  service.building_detail(building_id=)               → units, current tenancies, open findings
  service.create_building / update_building / add_unit / update_unit
  registrations.register(unit_id=, person=PersonInput, start_date=) / end_registration / renew_registration
  registrations.person_detail(person_id=) · people.search(id_number= [id_type=] | phone= | name=) · people.reveal
  inspections.record_inspection(building_id=, unit_id=, answers={item: Answer}) · escalate_finding
  reports.region_report(region=) · reports.density_points(bbox=, cell_deg=) → [[lat, lon, residents]]
  households.create_household / add_member / remove_member · importer.import_workbook · export.write_xlsx
  retention.purge(dry_run=) (the CLI: `shanzhi housing …`; keys rotate with `shanzhi pii rotate-keys`)

Policy data: policy/housing.toml (words, retention), policy/inspection.toml (the checklist).
Actions: housing.read / manage / inspect / reveal / export (policy/permissions.toml).
"""
