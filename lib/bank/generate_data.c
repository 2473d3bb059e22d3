/*
 * generate_data.c - the static tables of the synthetic bank: names, places,
 * occupations, merchants and their habits. Figures are rough German ones
 * (incomes, rents, ticket sizes) so that profiles look familiar to a bank.
 */
#include "generate_internal.h"

size_t tl__gen_count(const char *const *list)
{
    size_t n = 0;
    while (list[n])
        n++;
    return n;
}

/* ---------------------------------------------------------------- names --- */

static const char *const DE_M[] = {
    "Thomas", "Michael", "Andreas", "Stefan", "Christian", "Markus", "Peter", "Frank", "Jürgen",
    "Klaus", "Wolfgang", "Uwe", "Matthias", "Daniel", "Alexander", "Sebastian", "Tobias", "Florian",
    "Jan", "Lukas", "Felix", "Jonas", "Leon", "Paul", "Maximilian", "Niklas", "Tim", "Finn", "Moritz",
    "Philipp", "Simon", "Johannes", "Dieter", "Günter", "Horst", "Manfred", "Helmut", "Heinz",
    "Bernd", "Ralf", "Sven", "Dirk", "Holger", "Jens", "Björn", "Kai", "Oliver", "Martin", "Robert",
    "Karl", "Elias", "Noah", "Ben", "Emil", "Anton", "Henrik", "Till", "Fabian", "Dominik", "Julian",
    NULL};
static const char *const DE_F[] = {
    "Sabine", "Susanne", "Petra", "Claudia", "Andrea", "Stefanie", "Nicole", "Julia", "Katharina",
    "Anna", "Laura", "Lena", "Sarah", "Lisa", "Hannah", "Leonie", "Marie", "Sophie", "Emma", "Mia",
    "Lea", "Johanna", "Ursula", "Monika", "Renate", "Brigitte", "Gisela", "Ingrid", "Karin", "Helga",
    "Birgit", "Heike", "Anja", "Silke", "Katrin", "Sandra", "Melanie", "Christina", "Jessica", "Jana",
    "Franziska", "Carolin", "Charlotte", "Clara", "Greta", "Ida", "Paula", "Frieda", "Ella", "Luisa",
    "Annika", "Svenja", "Miriam", "Vanessa", "Elke", "Martina", "Jutta", "Doris", "Marion", "Nina",
    NULL};
static const char *const DE_L[] = {
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
    "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner",
    "Schmitz", "Krause", "Meier", "Lehmann", "Schmid", "Schulze", "Maier", "Köhler", "Herrmann",
    "König", "Walter", "Mayer", "Huber", "Kaiser", "Fuchs", "Peters", "Lang", "Scholz", "Möller",
    "Weiß", "Jung", "Hahn", "Schubert", "Vogel", "Friedrich", "Keller", "Günther", "Frank", "Berger",
    "Winkler", "Roth", "Beck", "Lorenz", "Baumann", "Franke", "Albrecht", "Schuster", "Simon",
    "Ludwig", "Böhm", "Winter", "Kraus", "Martin", "Schumacher", "Krämer", "Vogt", "Stein", "Jäger",
    "Otto", "Sommer", "Groß", "Seidel", "Heinrich", "Brandt", "Haas", "Schreiber", "Graf",
    "Schulte", "Dietrich", "Ziegler", "Kuhn", "Kühn", "Pohl", "Engel", "Horn", "Busch", "Bergmann",
    "Thomas", "Voigt", "Sauer", "Arnold", "Wolff", "Pfeiffer", NULL};

static const char *const TR_M[] = {"Mehmet", "Mustafa", "Ahmet", "Ali", "Hüseyin", "Hasan", "İbrahim",
                                   "Murat", "Emre", "Burak", "Can", "Kemal", "Yusuf", "Ömer", "Serkan",
                                   "Deniz", "Cem", "Orhan", NULL};
static const char *const TR_F[] = {"Ayşe", "Fatma", "Emine", "Hatice", "Zeynep", "Elif", "Merve",
                                   "Büşra", "Esra", "Selin", "Derya", "Aylin", "Leyla", "Melek",
                                   "Sibel", "Gül", NULL};
static const char *const TR_L[] = {"Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Yıldırım",
                                   "Öztürk", "Aydın", "Özdemir", "Arslan", "Doğan", "Kılıç", "Aslan",
                                   "Çetin", "Kara", "Koç", "Kurt", "Özkan", "Şimşek", "Polat", "Erdoğan",
                                   NULL};

static const char *const PL_M[] = {"Piotr", "Krzysztof", "Andrzej", "Tomasz", "Paweł", "Marcin",
                                   "Michał", "Łukasz", "Jakub", "Kamil", "Mateusz", "Grzegorz", NULL};
static const char *const PL_F[] = {"Anna", "Katarzyna", "Małgorzata", "Agnieszka", "Joanna", "Magdalena",
                                   "Monika", "Ewa", "Aleksandra", "Natalia", "Karolina", "Zofia", NULL};
static const char *const PL_L[] = {"Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk",
                                   "Kamiński", "Lewandowski", "Zieliński", "Szymański", "Woźniak",
                                   "Dąbrowski", "Kozłowski", "Jankowski", "Mazur", "Krawczyk", NULL};

static const char *const IT_M[] = {"Giuseppe", "Giovanni", "Antonio", "Marco", "Luca", "Francesco",
                                   "Alessandro", "Matteo", "Lorenzo", "Andrea", "Davide", "Paolo", NULL};
static const char *const IT_F[] = {"Maria", "Giulia", "Francesca", "Chiara", "Sara", "Valentina",
                                   "Alessia", "Martina", "Elena", "Federica", "Silvia", "Paola", NULL};
static const char *const IT_L[] = {"Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano",
                                   "Colombo", "Ricci", "Marino", "Greco", "Bruno", "Gallo", "Conti",
                                   "De Luca", "Costa", "Giordano", NULL};

static const char *const RU_M[] = {"Alexej", "Dmitri", "Sergej", "Andrej", "Wladimir", "Nikolai",
                                   "Iwan", "Viktor", "Juri", "Artjom", NULL};
static const char *const RU_F[] = {"Olga", "Tatjana", "Natalia", "Irina", "Swetlana", "Jelena",
                                   "Anastasia", "Ekaterina", "Ljudmila", "Xenia", NULL};
static const char *const RU_L[] = {"Schmidt", "Becker", "Iwanow", "Petrow", "Smirnow", "Kusnezow",
                                   "Popow", "Wolkow", "Sokolow", "Morosow", "Lebedew", "Fedorow",
                                   NULL};

static const char *const GR_M[] = {"Georgios", "Dimitrios", "Konstantinos", "Ioannis", "Nikolaos",
                                   "Christos", "Panagiotis", "Vasilios", NULL};
static const char *const GR_F[] = {"Maria", "Eleni", "Katerina", "Vasiliki", "Sofia", "Angeliki",
                                   "Dimitra", "Georgia", NULL};
static const char *const GR_L[] = {"Papadopoulos", "Papadakis", "Georgiou", "Nikolaidis", "Dimitriou",
                                   "Konstantinidis", "Oikonomou", "Vlachos", "Karagiannis", NULL};

static const char *const AR_M[] = {"Mohammed", "Ahmad", "Omar", "Khaled", "Youssef", "Karim", "Tarek",
                                   "Samir", "Bilal", "Hamza", NULL};
static const char *const AR_F[] = {"Fatima", "Aisha", "Mariam", "Layla", "Noor", "Yasmin", "Rania",
                                   "Amira", "Salma", "Hanan", NULL};
static const char *const AR_L[] = {"Al-Hassan", "Haddad", "Khalil", "Nasser", "Saleh", "Mansour",
                                   "Ibrahim", "Hamdan", "Aziz", "Rahman", "Darwish", NULL};

static const char *const BA_M[] = {"Ivan", "Marko", "Stefan", "Nikola", "Luka", "Amir", "Dragan",
                                   "Goran", "Milan", "Emir", NULL};
static const char *const BA_F[] = {"Ana", "Ivana", "Jelena", "Marija", "Maja", "Amra", "Mirela",
                                   "Snežana", "Dragana", "Lejla", NULL};
static const char *const BA_L[] = {"Horvat", "Kovačević", "Babić", "Marić", "Jurić", "Novak",
                                   "Petrović", "Jovanović", "Nikolić", "Hodžić", "Begić", "Perić",
                                   NULL};

static const char *const VN_M[] = {"Minh", "Tuan", "Hung", "Duc", "Quang", "Long", "Thanh", NULL};
static const char *const VN_F[] = {"Linh", "Thu", "Hoa", "Lan", "Mai", "Huong", "Ngoc", NULL};
static const char *const VN_L[] = {"Nguyen", "Tran", "Le", "Pham", "Hoang", "Vu", "Dang", "Bui", NULL};

static const char *const ES_M[] = {"José", "Antonio", "Manuel", "Javier", "Carlos", "Pablo", "Miguel",
                                   "João", "Pedro", "Rui", NULL};
static const char *const ES_F[] = {"María", "Carmen", "Lucía", "Laura", "Marta", "Elena", "Ana",
                                   "Inês", "Beatriz", "Sofia", NULL};
static const char *const ES_L[] = {"García", "Fernández", "González", "Rodríguez", "López",
                                   "Martínez", "Sánchez", "Pérez", "Silva", "Santos", "Ferreira",
                                   "Oliveira", NULL};

static const char *const FR_M[] = {"Jean", "Pierre", "Nicolas", "Julien", "Thomas", "Antoine",
                                   "Mathieu", "Louis", "Hugo", "Lucas", NULL};
static const char *const FR_F[] = {"Marie", "Camille", "Julie", "Claire", "Manon", "Chloé",
                                   "Léa", "Sophie", "Élise", "Inès", NULL};
static const char *const FR_L[] = {"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard",
                                   "Petit", "Durand", "Leroy", "Moreau", "Laurent", "Lefèvre", NULL};

static const char *const NL_M[] = {"Daan", "Sem", "Lucas", "Bram", "Jeroen", "Pieter", "Willem",
                                   "Sander", "Ruud", NULL};
static const char *const NL_F[] = {"Emma", "Sanne", "Anouk", "Fleur", "Lotte", "Eva", "Femke",
                                   "Marieke", "Noor", NULL};
static const char *const NL_L[] = {"de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk",
                                   "Bakker", "Janssen", "Visser", "Smit", "Meijer", "de Boer", NULL};

static const char *const EN_M[] = {"James", "David", "John", "Daniel", "Matthew", "Ryan", "Kevin",
                                   "Aaron", NULL};
static const char *const EN_F[] = {"Emily", "Olivia", "Jessica", "Rachel", "Hannah", "Amy", "Grace",
                                   "Chloe", NULL};
static const char *const EN_L[] = {"Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans",
                                   "Wilson", "Miller", "Clarke", NULL};

const struct gen_name_group tl__gen_name_groups[] = {
    {DE_M, DE_F, DE_L, 70.0, "AT"},
    {TR_M, TR_F, TR_L, 6.0, NULL},
    {PL_M, PL_F, PL_L, 3.5, "PL"},
    {RU_M, RU_F, RU_L, 3.0, NULL},
    {IT_M, IT_F, IT_L, 2.5, "IT"},
    {BA_M, BA_F, BA_L, 2.5, NULL},
    {AR_M, AR_F, AR_L, 3.0, NULL},
    {GR_M, GR_F, GR_L, 1.5, NULL},
    {VN_M, VN_F, VN_L, 1.0, NULL},
    {ES_M, ES_F, ES_L, 1.5, "ES"},
    {FR_M, FR_F, FR_L, 1.2, "FR"},
    {NL_M, NL_F, NL_L, 1.0, "NL"},
    {EN_M, EN_F, EN_L, 1.3, NULL},
};
const size_t tl__gen_n_name_groups = sizeof tl__gen_name_groups / sizeof tl__gen_name_groups[0];

const char *const tl__gen_email_domains[] = {
    "gmail.com", "web.de", "gmx.de", "gmx.net", "t-online.de", "outlook.com", "yahoo.de",
    "posteo.de", "icloud.com", "mail.de", "freenet.de", "hotmail.de", NULL};

/* --------------------------------------------------------------- places --- */

static const char *const DE_STREETS[] = {
    "Hauptstraße", "Schulstraße", "Gartenstraße", "Bahnhofstraße", "Dorfstraße", "Bergstraße",
    "Birkenweg", "Lindenstraße", "Kirchstraße", "Waldstraße", "Ringstraße", "Schillerstraße",
    "Goethestraße", "Jahnstraße", "Mozartstraße", "Am Markt", "Rosenweg", "Feldstraße", "Wiesenweg",
    "Friedrichstraße", "Poststraße", "Kantstraße", "Beethovenstraße", "Ahornweg", "Bismarckstraße",
    "Tulpenweg", "Parkstraße", "Mühlenweg", "Lessingstraße", "Blumenstraße", "Eichendorffstraße",
    "Uhlandstraße", "Marktplatz", "Talstraße", "Wilhelmstraße", "Sonnenstraße", "Brunnenstraße",
    "Heinestraße", "Am Sportplatz", "Kastanienallee", NULL};
static const char *const AT_STREETS[] = {"Mariahilfer Straße", "Landstraßer Hauptstraße",
                                         "Favoritenstraße", "Währinger Straße", "Praterstraße",
                                         "Linzer Straße", "Gumpendorfer Straße", NULL};
static const char *const NL_STREETS[] = {"Keizersgracht", "Prinsengracht", "Overtoom",
                                         "Ferdinand Bolstraat", "Javastraat", "Kinkerstraat", NULL};
static const char *const FR_STREETS[] = {"Rue de Rivoli", "Rue Oberkampf", "Boulevard Voltaire",
                                         "Rue de Charonne", "Avenue de Clichy", "Rue Lepic", NULL};
static const char *const ES_STREETS[] = {"Calle de Alcalá", "Calle Mayor", "Calle de Toledo",
                                         "Calle de Atocha", "Gran Vía", "Calle de Serrano", NULL};
static const char *const IT_STREETS[] = {"Via Torino", "Corso Buenos Aires", "Via Padova",
                                         "Via Solferino", "Corso Como", "Viale Monza", NULL};
static const char *const PL_STREETS[] = {"ulica Marszałkowska", "ulica Puławska", "ulica Grójecka",
                                          "ulica Mokotowska", "aleja Niepodległości", NULL};
static const char *const NO_STREETS[] = {NULL};

/* name, statement, country, region, income, rent, residents, visitors,
 * postal range, area code, streets, flight */
const struct gen_city tl__gen_cities[] = {
    {"München", "MUENCHEN", "DE", "Bayern", 1.18, 1.60, 9.0, 0, 80331, 81929, "89", DE_STREETS, false},
    {"Nürnberg", "NUERNBERG", "DE", "Bayern", 1.02, 1.05, 3.5, 0, 90402, 90491, "911", DE_STREETS, false},
    {"Augsburg", "AUGSBURG", "DE", "Bayern", 1.00, 1.00, 2.3, 0, 86150, 86199, "821", DE_STREETS, false},
    {"Stuttgart", "STUTTGART", "DE", "Baden-Württemberg", 1.14, 1.35, 5.5, 0, 70173, 70629, "711", DE_STREETS, false},
    {"Karlsruhe", "KARLSRUHE", "DE", "Baden-Württemberg", 1.04, 1.05, 3.0, 0, 76131, 76229, "721", DE_STREETS, false},
    {"Freiburg im Breisgau", "FREIBURG", "DE", "Baden-Württemberg", 0.98, 1.20, 2.6, 0, 79098, 79117, "761", DE_STREETS, false},
    {"Berlin", "BERLIN", "DE", "Berlin", 1.00, 1.25, 9.5, 0, 10115, 14199, "30", DE_STREETS, false},
    {"Hamburg", "HAMBURG", "DE", "Hamburg", 1.12, 1.35, 5.5, 0, 20095, 22769, "40", DE_STREETS, false},
    {"Frankfurt am Main", "FRANKFURT", "DE", "Hessen", 1.20, 1.45, 4.6, 0, 60306, 60599, "69", DE_STREETS, false},
    {"Wiesbaden", "WIESBADEN", "DE", "Hessen", 1.08, 1.15, 1.8, 0, 65183, 65207, "611", DE_STREETS, false},
    {"Kassel", "KASSEL", "DE", "Hessen", 0.92, 0.85, 1.4, 0, 34117, 34134, "561", DE_STREETS, false},
    {"Köln", "KOELN", "DE", "Nordrhein-Westfalen", 1.04, 1.25, 6.0, 0, 50667, 51149, "221", DE_STREETS, false},
    {"Düsseldorf", "DUESSELDORF", "DE", "Nordrhein-Westfalen", 1.10, 1.25, 4.2, 0, 40210, 40629, "211", DE_STREETS, false},
    {"Dortmund", "DORTMUND", "DE", "Nordrhein-Westfalen", 0.92, 0.85, 4.1, 0, 44135, 44388, "231", DE_STREETS, false},
    {"Essen", "ESSEN", "DE", "Nordrhein-Westfalen", 0.93, 0.85, 3.9, 0, 45127, 45359, "201", DE_STREETS, false},
    {"Hannover", "HANNOVER", "DE", "Niedersachsen", 0.98, 0.95, 3.7, 0, 30159, 30669, "511", DE_STREETS, false},
    {"Braunschweig", "BRAUNSCHWEIG", "DE", "Niedersachsen", 0.96, 0.85, 1.7, 0, 38100, 38126, "531", DE_STREETS, false},
    {"Osnabrück", "OSNABRUECK", "DE", "Niedersachsen", 0.92, 0.80, 1.2, 0, 49074, 49090, "541", DE_STREETS, false},
    {"Leipzig", "LEIPZIG", "DE", "Sachsen", 0.84, 0.80, 4.0, 0, 4103, 4357, "341", DE_STREETS, false},
    {"Dresden", "DRESDEN", "DE", "Sachsen", 0.86, 0.80, 3.6, 0, 1067, 1328, "351", DE_STREETS, false},
    {"Chemnitz", "CHEMNITZ", "DE", "Sachsen", 0.78, 0.65, 1.6, 0, 9111, 9247, "371", DE_STREETS, false},
    {"Rostock", "ROSTOCK", "DE", "Mecklenburg-Vorpommern", 0.80, 0.80, 1.3, 0, 18055, 18147, "381", DE_STREETS, false},
    {"Schwerin", "SCHWERIN", "DE", "Mecklenburg-Vorpommern", 0.79, 0.70, 0.7, 0, 19053, 19063, "385", DE_STREETS, false},
    /* customers living abroad, and destinations */
    {"Wien", "WIEN", "AT", "Wien", 1.05, 1.10, 0.45, 6.0, 1010, 1230, "1", AT_STREETS, false},
    {"Amsterdam", "AMSTERDAM", "NL", "Noord-Holland", 1.10, 1.40, 0.30, 4.0, 1011, 1109, "20", NL_STREETS, false},
    {"Paris", "PARIS", "FR", "Île-de-France", 1.10, 1.50, 0.25, 4.0, 75001, 75020, "1", FR_STREETS, true},
    {"Madrid", "MADRID", "ES", "Comunidad de Madrid", 0.85, 1.00, 0.20, 2.0, 28001, 28080, "91", ES_STREETS, true},
    {"Milano", "MILANO", "IT", "Lombardia", 0.95, 1.10, 0.20, 2.5, 20121, 20162, "2", IT_STREETS, true},
    {"Warszawa", "WARSZAWA", "PL", "Mazowieckie", 0.65, 0.70, 0.20, 1.0, 0, 4999, "22", PL_STREETS, true},
    /* destinations only */
    {"Salzburg", "SALZBURG", "AT", "Salzburg", 1, 1, 0, 3.0, 0, 0, "", NO_STREETS, false},
    {"Palma", "PALMA DE MALLORCA", "ES", "Illes Balears", 1, 1, 0, 9.0, 0, 0, "", NO_STREETS, true},
    {"Barcelona", "BARCELONA", "ES", "Catalunya", 1, 1, 0, 4.0, 0, 0, "", NO_STREETS, true},
    {"Roma", "ROMA", "IT", "Lazio", 1, 1, 0, 4.0, 0, 0, "", NO_STREETS, true},
    {"Gardasee", "RIVA DEL GARDA", "IT", "Trentino", 1, 1, 0, 4.0, 0, 0, "", NO_STREETS, false},
    {"Split", "SPLIT", "HR", "Dalmacija", 1, 1, 0, 4.0, 0, 0, "", NO_STREETS, false},
    {"Athen", "ATHINA", "GR", "Attika", 1, 1, 0, 2.5, 0, 0, "", NO_STREETS, true},
    {"Kreta", "CHANIA", "GR", "Kriti", 1, 1, 0, 3.0, 0, 0, "", NO_STREETS, true},
    {"Antalya", "ANTALYA", "TR", "Antalya", 1, 1, 0, 5.0, 0, 0, "", NO_STREETS, true},
    {"Lissabon", "LISBOA", "PT", "Lisboa", 1, 1, 0, 2.0, 0, 0, "", NO_STREETS, true},
    {"London", "LONDON", "GB", "England", 1, 1, 0, 2.5, 0, 0, "", NO_STREETS, true},
    {"Kopenhagen", "KOBENHAVN", "DK", "Hovedstaden", 1, 1, 0, 1.5, 0, 0, "", NO_STREETS, false},
    {"Prag", "PRAHA", "CZ", "Praha", 1, 1, 0, 2.0, 0, 0, "", NO_STREETS, false},
    {"Zürich", "ZUERICH", "CH", "Zürich", 1, 1, 0, 1.5, 0, 0, "", NO_STREETS, false},
    {"New York", "NEW YORK", "US", "New York", 1, 1, 0, 1.5, 0, 0, "", NO_STREETS, true},
    {"Bangkok", "BANGKOK", "TH", "Bangkok", 1, 1, 0, 1.0, 0, 0, "", NO_STREETS, true},
};
const size_t tl__gen_n_cities = sizeof tl__gen_cities / sizeof tl__gen_cities[0];

const struct gen_country tl__gen_countries[] = {
    {"DE", "+49"}, {"AT", "+43"}, {"NL", "+31"}, {"FR", "+33"}, {"ES", "+34"}, {"IT", "+39"},
    {"PL", "+48"}, {"HR", "+385"}, {"GR", "+30"}, {"TR", "+90"}, {"PT", "+351"}, {"GB", "+44"},
    {"DK", "+45"}, {"CZ", "+420"}, {"CH", "+41"}, {"US", "+1"}, {"TH", "+66"}, {"LU", "+352"},
    {"IE", "+353"}, {"SE", "+46"},
};
const size_t tl__gen_n_countries = sizeof tl__gen_countries / sizeof tl__gen_countries[0];

int tl__gen_country_index(const char *code)
{
    for (size_t i = 0; i < tl__gen_n_countries; i++)
        if (strcmp(tl__gen_countries[i].code, code) == 0)
            return (int)i;
    return 0;
}

/* ---------------------------------------------------------- occupations --- */

static const char *const EMP_STUDENT[] = {"STUDENTENWERK", "LIEFERANDO MINIJOB", "REWE MARKT GMBH",
                                          "UNIVERSITAET HILFSKRAFT", NULL};
static const char *const EMP_RETAIL[] = {"REWE MARKT GMBH", "EDEKA ZENTRALE", "LIDL DIENSTLEISTUNG",
                                         "ALDI SUED", "DM-DROGERIE MARKT", "KAUFLAND", NULL};
static const char *const EMP_HOSPITALITY[] = {"MARITIM HOTELGESELLSCHAFT", "VAPIANO SE",
                                              "BLOCK GRUPPE", "HOTEL ADLON", "SYSTEMGASTRONOMIE", NULL};
static const char *const EMP_DRIVER[] = {"DHL DELIVERY GMBH", "DEUTSCHE BAHN AG", "HERMES LOGISTIK",
                                         "DACHSER SE", "UPS DEUTSCHLAND", NULL};
static const char *const EMP_CRAFTS[] = {"ELEKTRO MAIER GMBH", "SANITAER SCHULZ", "BAU KOENIG GMBH",
                                         "HOLZBAU WEBER", "KFZ MEISTERBETRIEB", NULL};
static const char *const EMP_CLERK[] = {"ALLIANZ SE", "DEUTSCHE TELEKOM AG", "SIEMENS AG",
                                        "VERSICHERUNGSKAMMER", "AOK", "STADTVERWALTUNG", NULL};
static const char *const EMP_NURSE[] = {"KLINIKUM DER STADT", "UNIVERSITAETSKLINIKUM", "CHARITE",
                                        "ASKLEPIOS KLINIKEN", "HELIOS KLINIKEN", "CARITAS PFLEGE", NULL};
static const char *const EMP_TEACHER[] = {"LANDESAMT FUER BESOLDUNG", "LANDESAMT FUER FINANZEN",
                                          "SENATSVERWALTUNG BILDUNG", NULL};
static const char *const EMP_CIVIL[] = {"BUNDESVERWALTUNGSAMT", "LANDESAMT FUER FINANZEN",
                                        "STADTVERWALTUNG", "BUNDESAGENTUR FUER ARBEIT", NULL};
static const char *const EMP_ENGINEER[] = {"SIEMENS AG", "ROBERT BOSCH GMBH", "BMW AG",
                                           "MERCEDES-BENZ GROUP", "AIRBUS OPERATIONS", "BASF SE",
                                           "VOLKSWAGEN AG", NULL};
static const char *const EMP_SOFTWARE[] = {"SAP SE", "ZALANDO SE", "DELIVERY HERO SE",
                                           "CELONIS SE", "N26 GMBH", "PERSONIO GMBH", "IONOS SE", NULL};
static const char *const EMP_MANAGER[] = {"DEUTSCHE BANK AG", "ALLIANZ SE", "SIEMENS AG",
                                          "BMW AG", "BAYER AG", "MCKINSEY & COMPANY", NULL};
static const char *const EMP_LAWYER[] = {"FRESHFIELDS", "HENGELER MUELLER", "GLEISS LUTZ",
                                         "NOERR PARTGMBB", "KANZLEI SCHMIDT", NULL};
static const char *const EMP_PHYSICIAN[] = {"UNIVERSITAETSKLINIKUM", "KASSENAERZTLICHE VEREINIGUNG",
                                            "HELIOS KLINIKEN", "PRAXISGEMEINSCHAFT", NULL};
static const char *const EMP_SELF[] = {"KUNDENZAHLUNG", NULL};
static const char *const EMP_RETIRED[] = {"DEUTSCHE RENTENVERSICHERUNG", "DRV BUND",
                                          "VERSORGUNGSAMT PENSION", NULL};
static const char *const EMP_UNEMPLOYED[] = {"BUNDESAGENTUR FUER ARBEIT", "JOBCENTER", NULL};

const struct gen_occupation_info tl__gen_occupations[GEN_O_COUNT] = {
    [GEN_O_STUDENT] = {"student", 9500, 0.45, 0, 0.3, EMP_STUDENT},
    [GEN_O_RETAIL] = {"retail worker", 29000, 0.25, 9, 0.8, EMP_RETAIL},
    [GEN_O_HOSPITALITY] = {"hospitality worker", 27000, 0.28, 5, 0.5, EMP_HOSPITALITY},
    [GEN_O_DRIVER] = {"driver", 34000, 0.22, 6, 0.8, EMP_DRIVER},
    [GEN_O_CRAFTS] = {"craftsperson", 42000, 0.25, 11, 1.0, EMP_CRAFTS},
    [GEN_O_CLERK] = {"office clerk", 44000, 0.25, 16, 1.1, EMP_CLERK},
    [GEN_O_NURSE] = {"nurse", 43000, 0.18, 7, 1.1, EMP_NURSE},
    [GEN_O_TEACHER] = {"teacher", 58000, 0.15, 5, 1.5, EMP_TEACHER},
    [GEN_O_CIVIL_SERVANT] = {"civil servant", 52000, 0.20, 6, 1.6, EMP_CIVIL},
    [GEN_O_ENGINEER] = {"engineer", 68000, 0.25, 7, 1.1, EMP_ENGINEER},
    [GEN_O_SOFTWARE] = {"software developer", 66000, 0.30, 5, 0.7, EMP_SOFTWARE},
    [GEN_O_MANAGER] = {"manager", 98000, 0.40, 4, 1.0, EMP_MANAGER},
    [GEN_O_LAWYER] = {"lawyer", 92000, 0.45, 1.5, 1.0, EMP_LAWYER},
    [GEN_O_PHYSICIAN] = {"physician", 115000, 0.35, 2, 1.2, EMP_PHYSICIAN},
    [GEN_O_SELF_EMPLOYED] = {"self-employed", 52000, 0.65, 7, 0.9, EMP_SELF},
    [GEN_O_RETIRED] = {"retired", 21000, 0.40, 0, 1.0, EMP_RETIRED},
    [GEN_O_UNEMPLOYED] = {"unemployed", 13000, 0.25, 3.5, 0.2, EMP_UNEMPLOYED},
};

/* ---------------------------------------------------- payees and purposes --- */

const char *const tl__gen_landlords[] = {
    "VONOVIA SE", "DEUTSCHE WOHNEN", "LEG IMMOBILIEN", "HAUSVERWALTUNG KRAUSE",
    "HAUSVERWALTUNG BERGER & SOHN", "WOHNUNGSBAUGENOSSENSCHAFT", "GEWOBAG", "SAGA UNTERNEHMENSGRUPPE",
    "VERMIETER PRIVAT", "IMMOBILIEN SCHNEIDER GBR", NULL};
const char *const tl__gen_utilities[] = {"STADTWERKE", "E.ON ENERGIE DEUTSCHLAND", "VATTENFALL EUROPE",
                                         "ENBW ENERGIE", "EWE AG", "LICHTBLICK SE", NULL};
const char *const tl__gen_telcos[] = {"TELEKOM DEUTSCHLAND", "VODAFONE GMBH", "1&1 TELECOM",
                                      "O2 TELEFONICA", "PYUR TELE COLUMBUS", NULL};
const char *const tl__gen_mobile[] = {"TELEKOM MOBILFUNK", "VODAFONE MOBILFUNK", "O2 MOBILFUNK",
                                      "CONGSTAR", "ALDI TALK", "FREENET MOBILE", NULL};
const char *const tl__gen_insurers[] = {"HUK-COBURG", "ALLIANZ VERSICHERUNG", "ERGO VERSICHERUNG",
                                        "AXA VERSICHERUNG", "DEVK", "R+V VERSICHERUNG", NULL};
const char *const tl__gen_gyms[] = {"MCFIT", "FITX DEUTSCHLAND", "URBAN SPORTS CLUB",
                                    "JOHN REED FITNESS", "TURNVEREIN E.V.", NULL};
const char *const tl__gen_loan_purposes[] = {
    "credit_card", "debt_consolidation", "home_improvement", "car_repair", "furniture", "wedding",
    "medical", "education", "vacation", "other", "new_car", "used_car", "home_purchase",
    "refinance", "construction", NULL};

/* -------------------------------------------------------- spending habits --- */

static const char *const B_GROCERY[] = {"REWE",     "EDEKA",     "ALDI SUED", "LIDL",
                                        "NETTO MARKEN-DISCOUNT",  "PENNY",     "KAUFLAND",
                                        "ALDI NORD", "NORMA",     "TEGUT",     "BIOMARKT ALNATURA",
                                        NULL};
static const char *const I_GROCERY[] = {"CARREFOUR", "SPAR", "LIDL", "ALDI", "BILLA", "CONAD",
                                        "MERCADONA", "SUPERMARKET", NULL};
static const char *const O_GROCERY[] = {"REWE LIEFERSERVICE|DE", "FLINK SE|DE", "PICNIC GMBH|DE", NULL};
static const char *const B_BAKERY[] = {"BACKWERK",          "KAMPS BAECKEREI", "BAECKEREI MUELLER",
                                       "BAECKEREI SCHMIDT", "BACKHAUS DITSCH", "STEINECKE",
                                       "BAECKEREI POLZER",  NULL};
static const char *const I_BAKERY[] = {"BOULANGERIE", "PANADERIA", "PANIFICIO", "BAKERY", NULL};
static const char *const B_RESTAURANT[] = {"TRATTORIA ROMA", "GASTHAUS ZUM HIRSCH", "SUSHI BAR SAKURA",
                                           "RISTORANTE DA MARIO", "BRAUHAUS", "CAFE CENTRAL", "VAPIANO",
                                           "L'OSTERIA", "ASIA WOK", "STEAKHAUS EL TORO", "GRIECHE OLYMPIA",
                                           "INDISCHES RESTAURANT TAJ", "BLOCK HOUSE", "WIRTSHAUS ZUR POST",
                                           NULL};
static const char *const I_RESTAURANT[] = {"RESTAURANT", "TAVERNA", "BISTRO", "PIZZERIA", "TRATTORIA",
                                           "BRASSERIE", "CAFE", "RESTAURANTE", NULL};
static const char *const O_RESTAURANT[] = {"LIEFERANDO.DE|NL", "WOLT|DE", "UBER EATS|NL", NULL};
static const char *const B_FASTFOOD[] = {"MCDONALDS", "BURGER KING", "SUBWAY", "KFC", "NORDSEE",
                                         "DOENER KEBAB HAUS", "DITSCH", "DUNKIN DONUTS", "STARBUCKS", NULL};
static const char *const I_FASTFOOD[] = {"MCDONALDS", "BURGER KING", "STARBUCKS", "SUBWAY", NULL};
static const char *const B_BAR[] = {"IRISH PUB", "COCKTAILBAR", "BIERGARTEN", "KNEIPE ZUM ANKER",
                                    "WEINBAR", "CLUB", NULL};
static const char *const I_BAR[] = {"BAR", "PUB", "BEACH CLUB", "LOUNGE", NULL};
static const char *const B_FUEL[] = {"ARAL", "SHELL", "ESSO", "TOTALENERGIES", "JET TANKSTELLE",
                                     "AVIA", "STAR TANKSTELLE", NULL};
static const char *const I_FUEL[] = {"ENI", "REPSOL", "OMV", "SHELL", "TOTALENERGIES", "BP", NULL};
static const char *const B_DEPARTMENT[] = {"GALERIA", "BREUNINGER", "KARSTADT", "WOOLWORTH",
                                           "TK MAXX", "IKEA", NULL};
static const char *const I_DEPARTMENT[] = {"GALERIES", "EL CORTE INGLES", "DEPARTMENT STORE", NULL};
static const char *const O_DEPARTMENT[] = {"OTTO GMBH|DE", "IKEA ONLINE|DE", NULL};
static const char *const B_CLOTHING[] = {"H&M", "ZARA", "C&A", "PRIMARK", "PEEK & CLOPPENBURG",
                                         "DEICHMANN", "SNIPES", "S.OLIVER", "ESPRIT", NULL};
static const char *const I_CLOTHING[] = {"ZARA", "H&M", "MANGO", "BOUTIQUE", NULL};
static const char *const O_CLOTHING[] = {"ZALANDO SE|DE", "ABOUT YOU|DE", "H&M ONLINE|DE", NULL};
static const char *const B_ELECTRONICS[] = {"MEDIAMARKT", "SATURN", "EXPERT", "EURONICS",
                                            "APPLE STORE", NULL};
static const char *const I_ELECTRONICS[] = {"FNAC", "MEDIAWORLD", "ELECTRONICS", NULL};
static const char *const O_ELECTRONICS[] = {"CYBERPORT|DE", "NOTEBOOKSBILLIGER.DE|DE", "APPLE.COM/DE|IE",
                                            "MEDIAMARKT ONLINE|DE", NULL};
static const char *const B_DIY[] = {"OBI", "HORNBACH", "BAUHAUS", "TOOM BAUMARKT", "HAGEBAUMARKT",
                                    "DEHNER GARTEN", NULL};
static const char *const B_PHARMACY[] = {"APOTHEKE AM MARKT", "STADT-APOTHEKE", "LÖWEN-APOTHEKE",
                                         "ROSSMANN", "DM-DROGERIE MARKT", "MUELLER DROGERIE", NULL};
static const char *const I_PHARMACY[] = {"FARMACIA", "PHARMACIE", "PHARMACY", NULL};
static const char *const O_PHARMACY[] = {"SHOP APOTHEKE|NL", "DOCMORRIS|NL", NULL};
static const char *const B_TRANSIT[] = {"DB FERNVERKEHR", "DB REGIO", "MVG AUTOMAT", "BVG", "HVV",
                                        "RMV", "KVB", "VVS", NULL};
static const char *const I_TRANSIT[] = {"METRO", "TRANSPORT PUBLIC", "RENFE", "TRENITALIA", NULL};
static const char *const O_TRANSIT[] = {"DB VERTRIEB GMBH|DE", "FLIXBUS|DE", NULL};
static const char *const B_TAXI[] = {"TAXI", "TAXI ZENTRALE", "FUNKTAXI", NULL};
static const char *const I_TAXI[] = {"TAXI", "CABIFY", NULL};
static const char *const O_TAXI[] = {"UBER BV|NL", "FREENOW|DE", "BOLT|EE", NULL};
static const char *const B_CINEMA[] = {"CINEMAXX", "UCI KINOWELT", "CINEPLEX", "KINO ARSENAL",
                                       "MATHAESER FILMPALAST", NULL};
static const char *const O_CINEMA[] = {"EVENTIM|DE", "TICKETMASTER|DE", NULL};
static const char *const B_MISC[] = {"THALIA", "TCHIBO", "DEPOT", "FRESSNAPF", "BLUMEN KOENIG",
                                     "KIOSK", "POST FILIALE", "HUGENDUBEL", "SMYTHS TOYS", NULL};
static const char *const I_MISC[] = {"SOUVENIR SHOP", "KIOSK", "TOBACCO", "MUSEUM SHOP", NULL};
static const char *const O_MISC[] = {"AMAZON EU S.A R.L.|LU", "EBAY MARKETPLACES|CH", "PAYPAL EUROPE|LU",
                                     "ETSY IRELAND|IE", "TEMU|IE", NULL};
static const char *const O_AIRLINE[] = {"LUFTHANSA|DE", "EUROWINGS|DE", "CONDOR|DE", "RYANAIR|IE",
                                        "EASYJET|GB", NULL};
static const char *const B_HOTEL[] = {"MOTEL ONE", "NH HOTEL", "HILTON", "MARITIM HOTEL", "IBIS", NULL};
static const char *const I_HOTEL[] = {"HILTON", "MARRIOTT", "IBIS", "NH HOTEL", "MELIA", "RIU HOTEL",
                                      "HOTEL", "B&B HOTEL", NULL};
static const char *const O_HOTEL[] = {"BOOKING.COM|NL", "AIRBNB|IE", "EXPEDIA|CH", NULL};
static const char *const O_DIGITAL[] = {"NETFLIX.COM|NL", "SPOTIFY|SE", "DISNEY PLUS|NL",
                                        "AMAZON PRIME|LU", "APPLE.COM/BILL|IE", "GOOGLE PLAY|IE",
                                        "DAZN|GB", "PLAYSTATION NETWORK|GB", NULL};
static const char *const NONE[] = {NULL};

#define DOW_SHOP {1.00, 0.95, 1.00, 1.05, 1.25, 1.55, 0.03}
#define DOW_OPEN {0.90, 0.90, 0.95, 1.00, 1.20, 1.30, 1.00}
#define DOW_LEISURE {0.60, 0.65, 0.75, 0.90, 1.50, 1.80, 1.20}
#define DOW_WORK {1.15, 1.15, 1.15, 1.15, 1.10, 0.60, 0.45}
#define FLAT {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}

const struct gen_spend_cat tl__gen_spend[GEN_K_COUNT] = {
    [GEN_K_GROCERY] = {"grocery", 5411, 30.0, 26, 0.75, 0.02, GEN_H_SHOP, DOW_SHOP,
                       {0.97, 0.95, 1, 1.02, 1, 0.98, 1, 0.98, 0.98, 1, 1.02, 1.18},
                       1.0 / 120, 3, 2, 6, 1.2, B_GROCERY, I_GROCERY, O_GROCERY},
    [GEN_K_BAKERY] = {"bakery", 5462, 9.0, 5.5, 0.45, 0, GEN_H_BAKERY, {1, 1, 1, 1, 1.05, 1.35, 0.9},
                      FLAT, 1.0 / 260, 2, 1, 2, 0.4, B_BAKERY, I_BAKERY, NONE},
    [GEN_K_RESTAURANT] = {"restaurant", 5812, 9.0, 34, 0.60, 0.06, GEN_H_MEAL, DOW_LEISURE,
                          {0.85, 0.88, 0.95, 1, 1.05, 1.08, 1.05, 1, 1, 0.98, 1, 1.25},
                          1.0 / 90, 3, 1, 2, 2.6, B_RESTAURANT, I_RESTAURANT, O_RESTAURANT},
    [GEN_K_FASTFOOD] = {"fast food", 5814, 8.0, 11, 0.50, 0.08, GEN_H_FAST, DOW_OPEN, FLAT,
                        1.0 / 250, 3, 1, 3, 1.0, B_FASTFOOD, I_FASTFOOD, NONE},
    [GEN_K_BAR] = {"bar", 5813, 3.5, 22, 0.65, 0, GEN_H_BAR, {0.4, 0.5, 0.7, 0.9, 1.9, 2.3, 0.5},
                   {0.85, 0.9, 0.95, 1, 1.05, 1.15, 1.2, 1.2, 1.05, 0.95, 0.9, 1.25},
                   1.0 / 400, 2, 1, 2, 1.4, B_BAR, I_BAR, NONE},
    [GEN_K_FUEL] = {"fuel", 5541, 6.0, 62, 0.32, 0, GEN_H_FUEL, DOW_OPEN,
                    {0.95, 0.95, 1, 1, 1, 1.05, 1.12, 1.12, 1, 0.98, 0.95, 0.95},
                    1.0 / 500, 2, 2, 6, 0.5, B_FUEL, I_FUEL, NONE},
    [GEN_K_DEPARTMENT] = {"department store", 5311, 3.0, 42, 0.85, 0.25, GEN_H_SHOP, DOW_SHOP,
                          {0.9, 0.85, 0.95, 1, 1, 0.95, 0.95, 0.95, 1, 1, 1.2, 1.9},
                          1.0 / 1200, 1, 3, 8, 0.2, B_DEPARTMENT, I_DEPARTMENT, O_DEPARTMENT},
    [GEN_K_CLOTHING] = {"clothing", 5691, 4.5, 52, 0.70, 0.40, GEN_H_SHOP, DOW_SHOP,
                        {1.05, 0.8, 1, 1.05, 1, 0.95, 1.1, 0.95, 1, 1, 1.25, 1.6},
                        1.0 / 500, 2, 2, 4, 0.3, B_CLOTHING, I_CLOTHING, O_CLOTHING},
    [GEN_K_ELECTRONICS] = {"electronics", 5732, 1.6, 95, 1.05, 0.55, GEN_H_SHOP, DOW_SHOP,
                           {0.8, 0.8, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 1, 1, 1.7, 2.4},
                           1.0 / 2500, 1, 2, 6, 0.05, B_ELECTRONICS, I_ELECTRONICS, O_ELECTRONICS},
    [GEN_K_DIY] = {"home improvement", 5200, 1.8, 48, 0.85, 0.10, GEN_H_SHOP, DOW_SHOP,
                   {0.7, 0.8, 1.2, 1.35, 1.3, 1.1, 1, 0.95, 1, 0.95, 0.8, 0.75},
                   1.0 / 2000, 1, 2, 5, 0, B_DIY, NONE, NONE},
    [GEN_K_PHARMACY] = {"pharmacy", 5912, 5.0, 16, 0.70, 0.10, GEN_H_SHOP, DOW_SHOP,
                        {1.25, 1.2, 1.05, 0.95, 0.9, 0.9, 0.9, 0.9, 0.95, 1, 1.1, 1.2},
                        1.0 / 350, 2, 1, 3, 0.3, B_PHARMACY, I_PHARMACY, O_PHARMACY},
    [GEN_K_TRANSIT] = {"transit", 4111, 5.0, 4.2, 0.65, 0.30, GEN_H_COMMUTE, DOW_WORK, FLAT,
                       1.0 / 600, 2, 3, 10, 0.8, B_TRANSIT, I_TRANSIT, O_TRANSIT},
    [GEN_K_TAXI] = {"taxi", 4121, 1.3, 19, 0.50, 0.55, GEN_H_NIGHT, DOW_LEISURE, FLAT, 1.0 / 1500,
                    1, 1, 2, 0.9, B_TAXI, I_TAXI, O_TAXI},
    [GEN_K_CINEMA] = {"cinema", 7832, 1.2, 23, 0.30, 0.25, GEN_H_EVENING, {0.6, 0.9, 0.8, 0.9, 1.4, 1.7, 1.5},
                      {1.2, 1.1, 1, 0.9, 0.8, 0.75, 0.8, 0.85, 0.9, 1, 1.1, 1.4},
                      1.0 / 3000, 1, 1, 3, 0.1, B_CINEMA, NONE, O_CINEMA},
    [GEN_K_MISC] = {"misc retail", 5999, 7.0, 24, 0.95, 0.55, GEN_H_SHOP, DOW_SHOP,
                    {0.9, 0.85, 0.95, 0.95, 1, 0.95, 0.95, 0.95, 1, 1, 1.3, 1.7},
                    1.0 / 400, 2, 1, 2, 1.0, B_MISC, I_MISC, O_MISC},
    [GEN_K_AIRLINE] = {"airline", 4511, 0, 170, 0.55, 1.0, GEN_H_ONLINE, DOW_OPEN, FLAT, 0, 0, 1, 1,
                       0, NONE, NONE, O_AIRLINE},
    [GEN_K_HOTEL] = {"hotel", 7011, 0.3, 105, 0.45, 0.5, GEN_H_OFFICE, DOW_OPEN, FLAT, 1.0 / 4000, 1,
                     1, 2, 0, B_HOTEL, I_HOTEL, O_HOTEL},
    [GEN_K_DIGITAL] = {"digital goods", 5815, 0, 11, 0.5, 1.0, GEN_H_NIGHT, DOW_OPEN, FLAT, 0, 0, 1,
                       1, 0, NONE, NONE, O_DIGITAL},
};

/* Local hour-of-day weights. */
const double tl__gen_hour_profile[GEN_H_COUNT][24] = {
    [GEN_H_SHOP] = {0, 0, 0, 0, 0, 0, 0.1, 0.4, 1.5, 3, 4.5, 5.5, 6, 5.5, 5, 5.5, 6.5, 7.5, 7.5, 6,
                    3.5, 1, 0.1, 0},
    [GEN_H_BAKERY] = {0, 0, 0, 0, 0, 0.2, 3, 7, 8, 6.5, 5, 4, 3, 2, 2, 2.5, 2.5, 2, 1, 0.3, 0, 0,
                      0, 0},
    [GEN_H_MEAL] = {0.1, 0, 0, 0, 0, 0, 0, 0.2, 0.5, 0.8, 1, 3, 6.5, 6, 2.5, 1.3, 1.3, 2.2, 4.5,
                    7, 7, 5, 2.5, 0.8},
    [GEN_H_FAST] = {0.6, 0.4, 0.2, 0.1, 0, 0, 0.2, 1.5, 2, 1.5, 1.8, 4, 7, 6, 3, 2.5, 3, 4, 5.5,
                    5, 3.5, 2.5, 1.8, 1.2},
    [GEN_H_BAR] = {4, 2.5, 1.2, 0.4, 0.1, 0, 0, 0, 0, 0, 0, 0, 0.2, 0.3, 0.4, 0.5, 0.8, 1.5, 3, 5,
                   6.5, 7.5, 7.5, 6},
    [GEN_H_FUEL] = {0.2, 0.1, 0.1, 0.1, 0.2, 0.6, 2.5, 5, 4.5, 3.5, 3.5, 3.5, 3.5, 3.5, 3.8, 4.5,
                    5.5, 6, 5.5, 4, 2.5, 1.5, 0.8, 0.4},
    [GEN_H_COMMUTE] = {0.3, 0.1, 0, 0, 0.2, 1.5, 5, 8, 6.5, 3, 2, 2, 2.3, 2.3, 2.5, 3.5, 5.5, 7,
                       5.5, 3, 2, 1.5, 1.2, 0.8},
    [GEN_H_EVENING] = {0.2, 0, 0, 0, 0, 0, 0, 0, 0, 0.1, 0.2, 0.4, 0.6, 0.8, 1.5, 2, 2.5, 3.5, 5,
                       6.5, 6, 4, 2, 0.8},
    [GEN_H_ONLINE] = {1.2, 0.8, 0.4, 0.2, 0.2, 0.3, 0.8, 1.8, 2.5, 3, 3.3, 3.5, 3.8, 3.6, 3.4, 3.4,
                      3.6, 4, 4.6, 5.5, 6.2, 6.2, 4.8, 2.5},
    [GEN_H_NIGHT] = {3, 2.5, 1.5, 1, 0.8, 1, 1.5, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2.2, 2.5, 3, 3.5, 4,
                     4.5, 4.5, 4},
    [GEN_H_OFFICE] = {0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 2, 4, 6.5, 7, 6.5, 5, 3, 2.5, 2.5, 2.5, 2.5, 2.5,
                      2.5, 2.2, 1.8, 1.2, 0.6, 0.3},
};
